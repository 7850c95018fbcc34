#include "store/redis/scripts.hpp"

#include <string>
#include <string_view>

#include "store/redis/script_text.hpp"

namespace flashgate::store::redis::scripts {
namespace {

// Shared by every script that changes an order: how a change is made, counted and published.
constexpr const char* common = R"lua(
local function sale_key(prefix, sale_id) return prefix .. 'sale:' .. sale_id end
local function users_key(prefix, sale_id) return prefix .. 'users:' .. sale_id end
local function held_key(prefix, sale_id) return prefix .. 'held:' .. sale_id end
-- domain::buyer_key: the buyer, and in a sale of several items the item (limits and repeats are per item).
local function buyer_key(user_id, item)
  -- '\64' is the at sign of domain::buyer_key: no literal one is left in a script's text, where each
  -- marks a placeholder not filled in (script_text.hpp; redis_limits_test holds every script to it).
  if item and item ~= '' then return user_id .. '\64' .. item end
  return user_id
end
-- domain::hold_key: the buyer key, and the request id where the order has one.
local function hold_key(buyer, request_id)
  if request_id and request_id ~= '' then return buyer .. '#' .. request_id end
  return buyer
end
-- A key a script reaches without declaring it (the sale hash through its order, a buyer's hold, an order
-- through its hold), which must exist. On a Redis Cluster whose slot is migrating it may be on the other
-- master: the source refuses to touch a key it no longer has (an error, caught here), the target has not
-- got it yet. Each script checks such keys before its first write and answers TRYAGAIN, as Redis does for
-- a declared key, so that the client sends it again once the slot has moved (cluster_client.hpp): never
-- half a change, nor a key made again on one master while the other has it.
local function elsewhere(key)
  local n = redis.pcall('EXISTS', key)
  return type(n) ~= 'number' or n == 0
end
local function try_again(key)
  return redis.error_reply('TRYAGAIN ' .. key .. ' is not on this node: its slot is migrating')
end
-- The keys release() writes besides the order and the sale: the buyer's holds, and under a limit their held units.
local function release_elsewhere(okey, skey, ukey, hkey)
  if elsewhere(ukey) then return ukey end
  local item = redis.call('HGET', okey, 'item')
  local limit_field = 'max_per_buyer'
  if item then limit_field = 'il:' .. item end
  if tonumber(redis.call('HGET', skey, limit_field) or '1') > 1 and elsewhere(hkey) then return hkey end
  return nil
end
local function with_sale(reply, skey)
  local s = redis.call('HMGET', skey, 'started', 'rate', 'rate_at', 'rate_since', 'remaining')
  reply[#reply + 1] = 'started'; reply[#reply + 1] = s[1] or '0'
  reply[#reply + 1] = 'rate'; reply[#reply + 1] = s[2] or '0'
  reply[#reply + 1] = 'rate_at'; reply[#reply + 1] = s[3] or '0'
  reply[#reply + 1] = 'rate_since'; reply[#reply + 1] = s[4] or '0'
  reply[#reply + 1] = 'remaining'; reply[#reply + 1] = s[5] or '0'
  return reply
end
local function order_reply(outcome, okey, skey)
  local reply = redis.call('HGETALL', okey)
  table.insert(reply, 1, outcome)
  return with_sale(reply, skey)
end
local function publish(ckey, okey, skey)
  local fields = with_sale(redis.call('HGETALL', okey), skey)
  redis.call('XADD', ckey, 'MAXLEN', '~', '@CHANGES_MAXLEN@', '*', unpack(fields))
  return fields
end
-- The change feed's entry is also the reply: one read of the order and the sale for both.
local function publish_and_reply(outcome, ckey, okey, skey)
  local fields = publish(ckey, okey, skey)
  table.insert(fields, 1, outcome)
  return fields
end
local function move(okey, skey, to, now, reason)
  -- One read for all three: the item's field costs a sale of one item no command of its own.
  local o = redis.call('HMGET', okey, 'status', 'quantity', 'item')
  local from, quantity, item = o[1], o[2], o[3]
  redis.call('HSET', okey, 'status', to, 'updated_at', now, 'reason', reason)
  redis.call('HINCRBY', okey, 'version', 1)
  redis.call('HINCRBY', skey, 'c:' .. from, -1)
  redis.call('HINCRBY', skey, 'c:' .. to, 1)
  -- Units beyond one per order (x:<STATUS>): a single-unit order has no quantity field and adds nothing.
  -- An order of an item of a sale of several counts there too (ic:<item>:<STATUS>, ix:<item>:<STATUS>).
  if quantity then
    redis.call('HINCRBY', skey, 'x:' .. from, 1 - tonumber(quantity))
    redis.call('HINCRBY', skey, 'x:' .. to, tonumber(quantity) - 1)
  end
  if item then
    redis.call('HINCRBY', skey, 'ic:' .. item .. ':' .. from, -1)
    redis.call('HINCRBY', skey, 'ic:' .. item .. ':' .. to, 1)
    if quantity then
      redis.call('HINCRBY', skey, 'ix:' .. item .. ':' .. from, 1 - tonumber(quantity))
      redis.call('HINCRBY', skey, 'ix:' .. item .. ':' .. to, tonumber(quantity) - 1)
    end
  end
end
-- A final outcome waits in the sale's outcome stream until a worker has it in the system of record.
local function log_outcome(lkey, okey)
  redis.call('XADD', lkey, '*', unpack(redis.call('HGETALL', okey)))
end
-- Every unit of the order goes back to the sale (and to its item), and to its buyer's allowance.
local function release(okey, skey, ukey, hkey)
  local o = redis.call('HMGET', okey, 'user_id', 'order_id', 'quantity', 'request_id', 'item')
  local quantity = tonumber(o[3] or '1')
  redis.call('HINCRBY', skey, 'remaining', quantity)
  local limit_field = 'max_per_buyer'
  if o[5] then
    redis.call('HINCRBY', skey, 'ir:' .. o[5], quantity)
    limit_field = 'il:' .. o[5]
  end
  local buyer = buyer_key(o[1], o[5])
  local hold = hold_key(buyer, o[4])
  if redis.call('HGET', ukey, hold) == o[2] then redis.call('HDEL', ukey, hold) end
  if tonumber(redis.call('HGET', skey, limit_field) or '1') > 1 then
    if redis.call('HINCRBY', hkey, buyer, -quantity) <= 0 then redis.call('HDEL', hkey, buyer) end
  end
end
)lua";

Script make(const char* body) { return with_order_helpers(body); }

Script with_draw_branch(const char* body) {
  std::string text(body);
  const std::string_view name = "@ENTER_DRAW@";
  text.replace(text.find(name), name.size(), enter_draw_function());
  return with_order_helpers(text);
}

}  // namespace

Script with_order_helpers(const std::string& body) { return Script(with_limits(std::string(common) + body)); }

const Script& create_sale() {
  static const Script s = plain(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'sale_id', ARGV[1], 'item', ARGV[2], 'stock', ARGV[3], 'starts_at', ARGV[4],
  'ends_at', ARGV[5], 'created_at', ARGV[6], 'remaining', ARGV[3], 'seq', 0, 'started', 0, 'rate', 0, 'rate_at', 0,
  'rate_since', 0, 'c:QUEUED', 0, 'c:PROCESSING', 0, 'c:CONFIRMED', 0, 'c:PAID', 0, 'c:FAILED', 0, 'c:CANCELLED', 0,
  'max_per_buyer', ARGV[7] or '1')
-- A bucket of a bucketed sale: 'stock' stays the sale's, 'remaining' starts at the bucket's share.
if tonumber(ARGV[8] or '1') > 1 then
  redis.call('HSET', KEYS[1], 'buckets', ARGV[8], 'bucket', ARGV[9], 'share', ARGV[10], 'remaining', ARGV[10])
end
-- A draw sale (issue #26): its admission, and the times the intake and the drawer read.
if ARGV[11] == 'draw' then
  redis.call('HSET', KEYS[1], 'admission', 'draw', 'draw_window_ms', ARGV[12], 'prequeue_ms', ARGV[13],
    'entry_opens_at', ARGV[14], 'draw_at', ARGV[15], 'c:ENTERED', 0, 'c:NOT_DRAWN', 0)
end
-- A sale of several items (never bucketed, never a draw): each item's fields, and their ids in order.
if ARGV[11] == 'items' then
  local ids = {}
  for i = 12, #ARGV - 3, 4 do
    local item = ARGV[i]
    ids[#ids + 1] = item
    redis.call('HSET', KEYS[1], 'in:' .. item, ARGV[i + 1], 'is:' .. item, ARGV[i + 2], 'ir:' .. item, ARGV[i + 2],
      'il:' .. item, ARGV[i + 3])
  end
  redis.call('HSET', KEYS[1], 'items', table.concat(ids, ','))
end
return 1
)lua");
  return s;
}

const Script& intake() {
  // Window, then the request (dedupe before stock), then the quantity, the
  // buyer's limit and the stock (domain::quantity_refusal's order): one atomic step.
  // The hot path of a sale: the sale is read once, and the new order's fields,
  // known here, make the feed entry and the reply without reading them back.
  // A single-unit order gets no quantity field and touches no held units.
  static const Script s = with_draw_branch(R"lua(
local skey, ukey, hkey = KEYS[1], KEYS[2], KEYS[5]
local prefix, sale_id, user_id, order_id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local quantity, request_id = tonumber(ARGV[6] or '1'), ARGV[7] or ''
@ENTER_DRAW@
local sale = redis.call('HMGET', skey, 'stock', 'starts_at', 'ends_at', 'remaining', 'started', 'rate', 'rate_at',
  'max_per_buyer', 'rate_since', 'buckets', 'admission', 'drawn', 'items')
if not sale[1] then return {'sale_not_found'} end
-- The caller chose the bucket for the number of buckets it knew (1 if it knew none): told otherwise, it chooses again.
if (sale[10] or '1') ~= (ARGV[8] or '1') then return {'buckets', sale[10] or '1'} end
-- A draw sale until its draw is applied: entrants, or a wait for the result (enter_draw).
if sale[11] == 'draw' and sale[12] ~= '1' then return enter_draw(sale) end
if sale[3] ~= '' and tonumber(now) >= tonumber(sale[3]) then return {'sale_ended'} end
if sale[2] ~= '' and tonumber(now) < tonumber(sale[2]) then return {'sale_not_open'} end
local limit, left = tonumber(sale[8] or '1'), tonumber(sale[4])
-- A sale of several items: the one named has its own stock and limit (domain::item_refusal).
local item, buyer = nil, user_id
if sale[13] then
  item = ARGV[10] or ''
  if item == '' then return {'item_required'} end
  local it = redis.call('HMGET', skey, 'ir:' .. item, 'il:' .. item)
  if not it[1] then return {'item_not_found'} end
  left, limit, buyer = tonumber(it[1]), tonumber(it[2] or '1'), buyer_key(user_id, item)
end
if limit <= 1 then request_id = '' end
local hold = hold_key(buyer, request_id)
local held = redis.call('HGET', ukey, hold)
if held then
  local okey = prefix .. 'order:' .. held
  if elsewhere(okey) then return try_again(okey) end
  return order_reply('existing', okey, skey)
end
if quantity < 1 or quantity > limit then return {'invalid_request'} end
if left <= 0 then return {'sold_out'} end
if limit > 1 and tonumber(redis.call('HGET', hkey, buyer) or '0') + quantity > limit then
  return {'buyer_limit_reached'}
end
if left < quantity then return {'not_enough_stock', tostring(left)} end
local remaining = redis.call('HINCRBY', skey, 'remaining', -quantity)
local seq = tostring(redis.call('HINCRBY', skey, 'seq', 1))
redis.call('HINCRBY', skey, 'c:QUEUED', 1)
local fields = {'order_id', order_id, 'sale_id', sale_id, 'user_id', user_id, 'seq', seq, 'status', 'QUEUED',
  'version', '1', 'reason', '', 'payment_id', '', 'created_at', now, 'updated_at', now}
if quantity > 1 then
  fields[#fields + 1] = 'quantity'; fields[#fields + 1] = tostring(quantity)
  redis.call('HINCRBY', skey, 'x:QUEUED', quantity - 1)
end
if item then
  fields[#fields + 1] = 'item'; fields[#fields + 1] = item
  redis.call('HINCRBY', skey, 'ir:' .. item, -quantity)
  redis.call('HINCRBY', skey, 'ic:' .. item .. ':QUEUED', 1)
  if quantity > 1 then redis.call('HINCRBY', skey, 'ix:' .. item .. ':QUEUED', quantity - 1) end
end
if request_id ~= '' then fields[#fields + 1] = 'request_id'; fields[#fields + 1] = request_id end
if ARGV[9] and ARGV[9] ~= '0' then fields[#fields + 1] = 'bucket'; fields[#fields + 1] = ARGV[9] end
redis.call('HSET', KEYS[6], unpack(fields))
redis.call('HSET', ukey, hold, order_id)
if limit > 1 then redis.call('HINCRBY', hkey, buyer, quantity) end
redis.call('XADD', KEYS[3], '*', 'order_id', order_id)
local n = #fields
fields[n + 1] = 'started'; fields[n + 2] = sale[5] or '0'
fields[n + 3] = 'rate'; fields[n + 4] = sale[6] or '0'
fields[n + 5] = 'rate_at'; fields[n + 6] = sale[7] or '0'
fields[n + 7] = 'rate_since'; fields[n + 8] = sale[9] or '0'
fields[n + 9] = 'remaining'; fields[n + 10] = tostring(remaining)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '@CHANGES_MAXLEN@', '*', unpack(fields))
table.insert(fields, 1, 'accepted')
return fields
)lua");
  return s;
}

const Script& read_order() {
  static const Script s = make(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {'order_not_found'} end
local skey = sale_key(ARGV[1], redis.call('HGET', KEYS[1], 'sale_id'))
if elsewhere(skey) then return try_again(skey) end
return order_reply('found', KEYS[1], skey)
)lua");
  return s;
}

const Script& claim() {
  // Only the window whose name the queue entry is pending under may claim
  // it: an entry taken back meanwhile (idle past reclaim_after) was queued
  // anew, and a claim from the old copy would leave the order PROCESSING
  // with nothing referencing it. The claim renews the entry (idle 0) after
  // the first write, so that under maxmemory the whole claim is refused.
  // The start rate is the raw decaying average (tau 5 s) and its run's first
  // start, as domain::RateMeter::record keeps them (a run starts over after
  // 3 tau idle); readers correct it for the run's start (domain::measured_rate).
  static const Script s = make(R"lua(
local okey, queue, now = KEYS[1], KEYS[3], tonumber(ARGV[2])
local group, consumer, entry = ARGV[3], ARGV[4], ARGV[5]
if #redis.call('XPENDING', queue, group, entry, entry, 1, consumer) == 0 then return {'stale'} end
if redis.call('HGET', okey, 'status') ~= 'QUEUED' then return {'skip'} end
local skey = sale_key(ARGV[1], redis.call('HGET', okey, 'sale_id'))
if elsewhere(skey) then return try_again(skey) end
move(okey, skey, 'PROCESSING', now, '')
redis.call('XCLAIM', queue, group, consumer, 0, entry, 'JUSTID')
redis.call('HINCRBY', skey, 'started', 1)
local r = redis.call('HMGET', skey, 'rate', 'rate_at', 'rate_since')
local rate, at, since = tonumber(r[1] or '0'), tonumber(r[2] or '0'), tonumber(r[3] or '0')
if rate == 0 or since <= 0 or now - at >= @RATE_IDLE_RESET_MS@ then rate, since = 0, now end
rate = rate * math.exp(-math.max(0, now - at) / @RATE_TAU_MS@) + @RATE_STEP@
redis.call('HSET', skey, 'rate', tostring(rate), 'rate_at', now, 'rate_since', since)
return publish_and_reply('claimed', KEYS[2], okey, skey)
)lua");
  return s;
}

const Script& keep_entries() {
  // The heartbeat of a live worker's windows. The check and the renewal are
  // one step, so an entry another worker has taken back is never taken again.
  static const Script s = plain(R"lua(
local kept = 0
for i = 2, #ARGV - 1, 2 do
  local consumer, entry = ARGV[i], ARGV[i + 1]
  if #redis.call('XPENDING', KEYS[1], ARGV[1], entry, entry, 1, consumer) > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], consumer, 0, entry, 'JUSTID')
    kept = kept + 1
  end
end
return kept
)lua");
  return s;
}

const Script& finish() {
  static const Script s = make(R"lua(
local okey, to, reason, now = KEYS[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HGET', okey, 'status') ~= 'PROCESSING' then return {'skip'} end
local sale_id = redis.call('HGET', okey, 'sale_id')
local skey, ukey, hkey = sale_key(ARGV[1], sale_id), nil, nil
if elsewhere(skey) then return try_again(skey) end
if to == 'FAILED' then
  ukey, hkey = users_key(ARGV[1], sale_id), held_key(ARGV[1], sale_id)
  local missing = release_elsewhere(okey, skey, ukey, hkey)
  if missing then return try_again(missing) end
end
move(okey, skey, to, now, reason)
if to == 'FAILED' then
  release(okey, skey, ukey, hkey)
  log_outcome(KEYS[4], okey)
end
if to == 'CONFIRMED' then
  redis.call('ZADD', KEYS[3], now, redis.call('HGET', okey, 'order_id'))
  -- Absent when the shop said none: the status object then has no field.
  if ARGV[5] and ARGV[5] ~= '' then redis.call('HSET', okey, 'external_id', ARGV[5]) end
end
return publish_and_reply('done', KEYS[2], okey, skey)
)lua");
  return s;
}

const Script& hand_back() {
  static const Script s = make(R"lua(
local okey, now = KEYS[1], tonumber(ARGV[2])
local status = redis.call('HGET', okey, 'status')
if status ~= 'PROCESSING' and status ~= 'QUEUED' then return {'skip'} end
if status == 'PROCESSING' then
  local skey = sale_key(ARGV[1], redis.call('HGET', okey, 'sale_id'))
  if elsewhere(skey) then return try_again(skey) end
  move(okey, skey, 'QUEUED', now, '')
  redis.call('HINCRBY', skey, 'started', -1)
  publish(KEYS[2], okey, skey)
end
redis.call('XADD', KEYS[3], '*', 'order_id', redis.call('HGET', okey, 'order_id'))
return {'requeued'}
)lua");
  return s;
}

const Script& drop_entry() {
  // XACK leaves the entry in the stream: without XDEL the queue (or the
  // outcome stream) would keep every entry ever taken. Nothing reads an
  // acknowledged entry again.
  static const Script s = plain(R"lua(
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
)lua");
  return s;
}

const Script& pay() {
  // Compare-and-set: a payment racing the timeout ends in exactly one state.
  static const Script s = make(R"lua(
local okey, payment_id, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', okey) == 0 then return {'order_not_found'} end
local skey = sale_key(ARGV[1], redis.call('HGET', okey, 'sale_id'))
if elsewhere(skey) then return try_again(skey) end
local status = redis.call('HGET', okey, 'status')
if status == 'PAID' and redis.call('HGET', okey, 'payment_id') == payment_id then return order_reply('ok', okey, skey) end
if status ~= 'CONFIRMED' then return {'order_not_payable'} end
move(okey, skey, 'PAID', now, '')
redis.call('HSET', okey, 'payment_id', payment_id)
redis.call('ZREM', KEYS[3], redis.call('HGET', okey, 'order_id'))
log_outcome(KEYS[4], okey)
return publish_and_reply('ok', KEYS[2], okey, skey)
)lua");
  return s;
}

const Script& cancel_unpaid() {
  static const Script s = make(R"lua(
local okey, now, before = KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local order_id = redis.call('HGET', okey, 'order_id')
local confirmed_at = redis.call('ZSCORE', KEYS[3], order_id or '')
if redis.call('HGET', okey, 'status') ~= 'CONFIRMED' then
  if order_id then redis.call('ZREM', KEYS[3], order_id) end
  return {'skip'}
end
if not confirmed_at or tonumber(confirmed_at) >= before then return {'skip'} end
local sale_id = redis.call('HGET', okey, 'sale_id')
local skey, ukey, hkey = sale_key(ARGV[1], sale_id), users_key(ARGV[1], sale_id), held_key(ARGV[1], sale_id)
if elsewhere(skey) then return try_again(skey) end
local missing = release_elsewhere(okey, skey, ukey, hkey)
if missing then return try_again(missing) end
move(okey, skey, 'CANCELLED', now, 'payment_timeout')
release(okey, skey, ukey, hkey)
redis.call('ZREM', KEYS[3], order_id)
log_outcome(KEYS[4], okey)
publish(KEYS[2], okey, skey)
return {'cancelled'}
)lua");
  return s;
}

const Script& take_stock() {
  // The first half of a move: the units leave the donor's remaining and are
  // recorded, under the transfer's id, in the donor's own keys in the same
  // step. Until give_stock they are in no bucket's remaining: never sold twice.
  static const Script s = plain(R"lua(
local have = redis.call('HGET', KEYS[1], 'remaining')
if not have then return 0 end
local n = math.min(tonumber(ARGV[3]), tonumber(have) - tonumber(ARGV[4]))
if n <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'remaining', -n)
redis.call('HINCRBY', KEYS[1], 'moves', 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. n)
return n
)lua");
  return s;
}

const Script& give_stock() {
  // Idempotent: the receiver remembers every transfer it applied, so the
  // mover and a recovery may both give the same transfer.
  static const Script s = plain(R"lua(
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'moves', 1)
return 1
)lua");
  return s;
}

const Script& settle_stock() {
  static const Script s = plain(R"lua(
return redis.call('HDEL', KEYS[1], ARGV[1])
)lua");
  return s;
}

const Script& bucket_state() {
  static const Script s = plain(R"lua(
local b = redis.call('HMGET', KEYS[1], 'remaining', 'moves')
if not b[1] then return {-1, 0, 0} end
return {tonumber(b[1]), tonumber(b[2] or '0'), redis.call('HLEN', KEYS[2])}
)lua");
  return s;
}

const Script& set_remaining_db() {
  // A plain HSET after the sale was archived would make its hash again.
  static const Script s = plain(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
-- With an item: that item's (idb:<item>) in a sale of several.
local field = 'remaining_db'
if ARGV[2] then field = 'idb:' .. ARGV[2] end
redis.call('HSET', KEYS[1], field, ARGV[1])
return 1
)lua");
  return s;
}

const Script& ensure_groups() {
  // Checked and made in one step: a process that still lists an archived
  // tag must not make its streams again (XGROUP CREATE ... MKSTREAM would).
  // The tag's queue says whether it is still alive: fg:tags is in another
  // slot on a Redis Cluster, out of a script's reach.
  static const Script s = plain(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i, name in ipairs({ARGV[1], ARGV[2]}) do
  local made = redis.pcall('XGROUP', 'CREATE', KEYS[i], name, '0', 'MKSTREAM')
  if type(made) == 'table' and made.err and string.sub(made.err, 1, 9) ~= 'BUSYGROUP' then return made end
end
return 1
)lua");
  return s;
}

std::vector<const Script*> all() {
  return {&create_sale(), &intake(),     &read_order(),          &claim(),       &keep_entries(),
          &finish(),      &hand_back(),  &drop_entry(),          &pay(),         &cancel_unpaid(),
          &begin_drop(),  &drop_stream_entries(), &drop_orders(), &drop_tag(),    &finish_drop(),
          &set_remaining_db(), &ensure_groups(), &take_stock(), &give_stock(), &settle_stock(),
          &bucket_state(), &seed_draw(), &read_entrants(), &apply_draw(), &finish_draw()};
}

}  // namespace flashgate::store::redis::scripts
