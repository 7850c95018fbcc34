// The scripts of RedisStore::drop_sale (SaleArchive), in the order it runs
// them; declared, with what they take and answer, in scripts.hpp.
#include "store/redis/script_text.hpp"
#include "store/redis/scripts.hpp"

namespace flashgate::store::redis::scripts {

const Script& begin_drop() {
  // The counts of the sale hash are kept by every script that moves an order,
  // in the same step: all four non-final counts at 0 means no order can move
  // again (claim, finish, pay and cancel_unpaid all start from one of them; the draw from ENTERED).
  static const Script s = plain(R"lua(
local skey = KEYS[1]
if redis.call('EXISTS', skey) == 0 then return {'gone'} end
for _, status in ipairs({'ENTERED', 'QUEUED', 'PROCESSING', 'CONFIRMED'}) do
  if tonumber(redis.call('HGET', skey, 'c:' .. status) or '0') > 0 then return {'sale_active', status} end
end
return {'dropping'}
)lua");
  return s;
}

const Script& drop_stream_entries() {
  // Queue entries name only their order: the order's hash says whose it is,
  // so queues are cleaned before the order hashes go.
  static const Script s = plain(R"lua(
local stream, sale_id, prefix, group_name, after, count = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local from = '-'
if after ~= '' then from = '(' .. after end
local entries = redis.call('XRANGE', stream, from, '+', 'COUNT', count)
local last, removed = '', 0
for _, entry in ipairs(entries) do
  last = entry[1]
  local fields, owner, order_id = entry[2], nil, nil
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'sale_id' then owner = fields[i + 1] end
    if fields[i] == 'order_id' then order_id = fields[i + 1] end
  end
  if not owner and order_id then owner = redis.call('HGET', prefix .. 'order:' .. order_id, 'sale_id') end
  if owner == sale_id then
    if group_name ~= '' then redis.call('XACK', stream, group_name, entry[1]) end
    removed = removed + redis.call('XDEL', stream, entry[1])
  end
end
return {last, removed}
)lua");
  return s;
}

const Script& drop_orders() {
  static const Script s = plain(R"lua(
local sale_id, removed = ARGV[1], 0
for i = 2, #KEYS do
  local order = redis.call('HMGET', KEYS[i], 'sale_id', 'order_id')
  if order[1] == sale_id then
    if order[2] then redis.call('ZREM', KEYS[1], order[2]) end
    removed = removed + redis.call('UNLINK', KEYS[i])
  end
end
return removed
)lua");
  return s;
}

const Script& drop_tag() {
  static const Script s = plain(R"lua(
return redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
)lua");
  return s;
}

const Script& finish_drop() {
  static const Script s = plain(R"lua(
return redis.call('UNLINK', KEYS[1])
)lua");
  return s;
}

}  // namespace flashgate::store::redis::scripts
