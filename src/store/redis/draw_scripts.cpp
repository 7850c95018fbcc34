// The Lua of a draw sale on Redis (issue #26; docs/architecture.md "The
// draw"): the intake's branch before the draw is applied, and the drawer's
// steps (RedisDraws), in the order it runs them; declared, with what they
// take and answer, in scripts.hpp. Every key is of the sale's tag: the sale
// hash names the slot, the others are made from the prefix it is given.
#include "store/redis/script_text.hpp"
#include "store/redis/scripts.hpp"

namespace flashgate::store::redis::scripts {

const char* enter_draw_function() {
  // From entry_opens_at until the drawer takes its seed (at draw_at): an
  // entrant, ENTERED, no unit taken and no place in line; the quantity
  // checks run against the whole stock and the buyer's allowance counts the
  // entry. The seed closes the entrant set in the same step as this check,
  // so no entrant comes after it. From then until the result is applied
  // only an entrant's repeat is answered (its order), everyone else waits.
  return R"lua(
local function enter_draw(sale)
  local d = redis.call('HMGET', skey, 'entry_opens_at', 'draw_at', 'draw_seed')
  local at = tonumber(now)
  if at < tonumber(d[1]) then return {'sale_not_open'} end
  local limit = tonumber(sale[8] or '1')
  if limit <= 1 then request_id = '' end
  local hold = hold_key(user_id, request_id)
  local held = redis.call('HGET', ukey, hold)
  if held then
    local okey = prefix .. 'order:' .. held
    if elsewhere(okey) then return try_again(okey) end
    return order_reply('existing', okey, skey)
  end
  if at >= tonumber(d[2]) or d[3] then return {'drawing'} end
  if quantity < 1 or quantity > limit then return {'invalid_request'} end
  local stock = tonumber(sale[1])
  if stock <= 0 then return {'sold_out'} end
  if limit > 1 and tonumber(redis.call('HGET', hkey, user_id) or '0') + quantity > limit then
    return {'buyer_limit_reached'}
  end
  if stock < quantity then return {'not_enough_stock', tostring(stock)} end
  redis.call('HINCRBY', skey, 'c:ENTERED', 1)
  local fields = {'order_id', order_id, 'sale_id', sale_id, 'user_id', user_id, 'seq', '0', 'status', 'ENTERED',
    'version', '1', 'reason', '', 'payment_id', '', 'created_at', now, 'updated_at', now, 'draw_at', d[2]}
  if quantity > 1 then
    fields[#fields + 1] = 'quantity'; fields[#fields + 1] = tostring(quantity)
    redis.call('HINCRBY', skey, 'x:ENTERED', quantity - 1)
  end
  if request_id ~= '' then fields[#fields + 1] = 'request_id'; fields[#fields + 1] = request_id end
  local okey = KEYS[6]
  redis.call('HSET', okey, unpack(fields))
  redis.call('HSET', ukey, hold, order_id)
  if limit > 1 then redis.call('HINCRBY', hkey, user_id, quantity) end
  redis.call('SADD', KEYS[7], order_id)
  return publish_and_reply('accepted', KEYS[4], okey, skey)
end
)lua";
}

const Script& seed_draw() {
  // The freeze and the seed in one step: the first drawer's seed stays (a
  // second drawer, or the same after a crash, gets it back), and the
  // entrant set is counted as it is closed.
  static const Script s = plain(R"lua(
local skey, seed, now = KEYS[1], ARGV[3], ARGV[4]
local d = redis.call('HMGET', skey, 'admission', 'draw_at', 'draw_seed', 'drawn')
if d[1] ~= 'draw' then return {'not_draw'} end
if d[4] == '1' then return {'drawn'} end
if not d[3] then
  if tonumber(now) < tonumber(d[2]) then return {'early'} end
  redis.call('HSET', skey, 'draw_seed', seed, 'seeded_at', now,
    'draw_entrants', redis.call('SCARD', KEYS[2]))
end
local r = redis.call('HMGET', skey, 'draw_seed', 'seeded_at', 'draw_entrants', 'stock')
return {'seeded', r[1], r[2], r[3], r[4]}
)lua");
  return s;
}

const Script& read_entrants() {
  // An entrant's order not here is on the other master of a migrating slot (TRYAGAIN, as in scripts.cpp's
  // elsewhere): every entrant has one until the sale is archived, long after its draw.
  static const Script s = plain(R"lua(
local prefix = ARGV[1]
local page = redis.call('SSCAN', KEYS[2], ARGV[3], 'COUNT', ARGV[4])
local out = {page[1]}
for _, id in ipairs(page[2]) do
  local okey = prefix .. 'order:' .. id
  local o = redis.pcall('HMGET', okey, 'user_id', 'quantity', 'created_at')
  if o.err or not o[1] then
    return redis.error_reply('TRYAGAIN the entrant ' .. id .. ' has no order here: its slot is migrating')
  end
  out[#out + 1] = id; out[#out + 1] = o[1]; out[#out + 1] = o[2] or '1'; out[#out + 1] = o[3] or '0'
end
return out
)lua");
  return s;
}

const Script& apply_draw() {
  // Compare-and-set per order (ENTERED -> QUEUED | NOT_DRAWN): a batch
  // applied before a crash, or by another drawer, is skipped. The caller
  // sends the drawn in position order, so the queue is in draw order.
  static const Script s = with_order_helpers(R"lua(
local skey, prefix, sale_id, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local ukey, hkey = users_key(prefix, sale_id), held_key(prefix, sale_id)
local several = tonumber(redis.call('HGET', skey, 'max_per_buyer') or '1') > 1
-- Every key the batch writes is here before the first write (scripts.cpp, elsewhere): the orders, and
-- the holds (and held units) of the entrants not drawn, which they keep until this step.
local not_drawn = false
for i = 4, #ARGV - 1, 2 do
  local okey = prefix .. 'order:' .. ARGV[i]
  if elsewhere(okey) then return try_again(okey) end
  if tonumber(ARGV[i + 1]) == 0 and redis.call('HGET', okey, 'status') == 'ENTERED' then not_drawn = true end
end
if not_drawn and elsewhere(ukey) then return try_again(ukey) end
if not_drawn and several and elsewhere(hkey) then return try_again(hkey) end
local applied = 0
for i = 4, #ARGV - 1, 2 do
  local order_id, position = ARGV[i], tonumber(ARGV[i + 1])
  local okey = prefix .. 'order:' .. order_id
  if redis.call('HGET', okey, 'status') == 'ENTERED' then
    local o = redis.call('HMGET', okey, 'user_id', 'quantity', 'request_id')
    local quantity = tonumber(o[2] or '1')
    if position > 0 then
      move(okey, skey, 'QUEUED', now, '')
      redis.call('HSET', okey, 'seq', position)
      redis.call('HINCRBY', skey, 'remaining', -quantity)
      redis.call('XADD', KEYS[2], '*', 'order_id', order_id)
    else
      -- It never held a unit; its hold and allowance go, so the buyer may come again first-come.
      move(okey, skey, 'NOT_DRAWN', now, '')
      local hold = hold_key(o[1], o[3])
      if redis.call('HGET', ukey, hold) == order_id then redis.call('HDEL', ukey, hold) end
      if several and redis.call('HINCRBY', hkey, o[1], -quantity) <= 0 then redis.call('HDEL', hkey, o[1]) end
      log_outcome(KEYS[4], okey)
    end
    publish(KEYS[3], okey, skey)
    applied = applied + 1
  end
end
return applied
)lua");
  return s;
}

const Script& finish_draw() {
  // The drawn marker, once no entrant is left: from here the intake is first-come, numbered after the drawn.
  static const Script s = plain(R"lua(
local skey = KEYS[1]
local d = redis.call('HMGET', skey, 'drawn', 'c:ENTERED', 'seq')
if not d[2] then return {'gone'} end
if d[1] == '1' then return {'drawn'} end
if tonumber(d[2]) > 0 then return {'pending', d[2]} end
redis.call('HSET', skey, 'drawn', '1', 'drawn_at', ARGV[4], 'seq', math.max(tonumber(d[3] or '0'), tonumber(ARGV[3])))
redis.call('DEL', KEYS[2])
return {'drawn'}
)lua");
  return s;
}

}  // namespace flashgate::store::redis::scripts
