#include "store/redis/bucket_tags.hpp"
#include "store/redis/sale_archive.hpp"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "domain/bucket.hpp"
#include "domain/ids.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

using domain::Error;
using domain::ErrorCode;

std::optional<bool> SaleArchive::tag_shared(const std::string& sale_id, const std::string& tag) {
  for (const char* set : {keys::sales, keys::dropping}) {
    auto ids = client_.command_sync({"SMEMBERS", set});
    if (!ids.ok()) return std::nullopt;
    for (const auto& id : ids.elements) {
      if (id.str == sale_id) continue;
      if (domain::sale_tag(id.str) == tag) return true;
      // Another bucketed sale's buckets have tags of their own (a clash of 32-bit hashes is rare, not impossible).
      const auto count = bucket_count(id.str);
      if (!count) return std::nullopt;
      for (std::int64_t b = 1; b < *count; ++b)
        if (bucket_tag(id.str, b, *count) == tag) return true;
    }
  }
  return false;
}

std::optional<std::int64_t> SaleArchive::bucket_count(const std::string& sale_id) {
  auto buckets = client_.command_sync({"HGET", keys::sale(sale_id), "buckets"});
  if (!buckets.ok()) return std::nullopt;
  return buckets.type == Reply::Type::string ? to_int(buckets.str) : 1;
}

domain::Result<Empty> SaleArchive::drop_sale(const std::string& sale_id) {
  const auto buckets = bucket_count(sale_id);
  if (!buckets) return unreachable();
  // Buckets 1..: checked before bucket 0's begin_drop, which checks its own
  // orders and takes the sale out of fg:sales (no intake, no rebalancing).
  for (std::int64_t b = 1; b < *buckets; ++b) {
    const auto tag = bucket_tag(sale_id, b, *buckets);
    auto counts = client_.command_sync({"HMGET", keys::sale_in(tag, sale_id), "c:QUEUED", "c:PROCESSING", "c:CONFIRMED"});
    if (!counts.ok()) return error_of(counts);
    for (std::size_t i = 0; i < counts.elements.size(); ++i)
      if (counts.elements[i].type == Reply::Type::string && to_int(counts.elements[i].str) > 0)
        return Error{ErrorCode::sale_active, std::string("the sale has orders that are not final (") +
                                                 (i == 0 ? "QUEUED" : i == 1 ? "PROCESSING" : "CONFIRMED") + ")"};
  }
  const std::string tag = domain::sale_tag(sale_id);
  // The global sets and fg:dropped are each in a slot of their own (a Redis
  // Cluster), so the scripts touch the sale's slot only and the sets follow
  // as commands, in an order each step of which may be run again.
  const auto begun = client_.eval_sync(scripts::begin_drop(), {keys::sale(sale_id)}, {});
  if (!begun.ok()) return error_of(begun);
  const auto& outcome = outcome_of(begun);
  if (outcome == "sale_active")
    return Error{ErrorCode::sale_active, "the sale has orders that are not final (" +
                                             (begun.elements.size() > 1 ? begun.elements[1].str : std::string()) + ")"};
  if (outcome == "gone") {
    for (const char* set : {keys::sales, keys::dropping})
      if (auto left = client_.command_sync({"SREM", set, sale_id}); !left.ok()) return error_of(left);
    feed_.forget_sale(sale_id);
    return Empty{};
  }
  // In fg:dropping before out of fg:sales: listed by sale_views() all along.
  if (auto listed = client_.command_sync({"SADD", keys::dropping, sale_id}); !listed.ok()) return error_of(listed);
  if (auto unlisted = client_.command_sync({"SREM", keys::sales, sale_id}); !unlisted.ok()) return error_of(unlisted);
  // Announced now (gateways learn the sale is archived before its keys go) and again once it is gone.
  if (auto announced = announce_dropped(sale_id); !announced.ok()) return error_of(announced);
  spdlog::info("redis: removing the keys of archived sale {}", sale_id);
  // Buckets 1.. first, each as a sale of its own tag; bucket 0's hash, the
  // one that says there are buckets, goes last (a resumed drop finds them).
  for (std::int64_t b = 1; b < *buckets; ++b)
    if (auto dropped = drop_bucket(sale_id, bucket_tag(sale_id, b, *buckets)); !dropped) return dropped;
  if (auto dropped = drop_bucket(sale_id, tag); !dropped) return dropped;
  // The sale hash last: until it goes, sale_views() lists the sale and a
  // cut-short archive is resumed; then fg:dropping's entry and the announcement.
  auto finished = client_.eval_sync(scripts::finish_drop(), {keys::sale(sale_id)}, {});
  if (!finished.ok()) return error_of(finished);
  if (auto left = client_.command_sync({"SREM", keys::dropping, sale_id}); !left.ok()) return error_of(left);
  if (auto announced = announce_dropped(sale_id); !announced.ok()) return error_of(announced);
  feed_.forget_sale(sale_id);
  return Empty{};
}

domain::Result<Empty> SaleArchive::drop_bucket(const std::string& sale_id, const std::string& tag) {
  const auto shared = tag_shared(sale_id, tag);
  if (!shared) return unreachable();
  // Holders first: an intake of a holder would otherwise read an order hash
  // already removed. Then, with the tag shared, the sale's entries in the
  // tag's streams, while the order hashes still say whose a queue entry is.
  auto holders = client_.command_sync({"UNLINK", keys::users_in(tag, sale_id), keys::held_in(tag, sale_id),
                                       keys::transit(tag, sale_id), keys::applied(tag, sale_id)});
  if (!holders.ok()) return error_of(holders);
  if (*shared)
    if (auto dropped = drop_stream_entries(sale_id, tag); !dropped) return dropped;
  if (auto dropped = drop_orders(sale_id, tag); !dropped) return dropped;
  if (!*shared) {
    // The queue first: without it no process makes the tag's groups again
    // (scripts::ensure_groups), whether or not it still lists the tag.
    auto dropped = client_.eval_sync(scripts::drop_tag(), {keys::queue(tag), keys::changes(tag), keys::outcomes(tag),
                                                           keys::confirmed(tag)}, {});
    if (!dropped.ok()) return error_of(dropped);
    auto forgotten = client_.command_sync({"SREM", keys::tags, tag});
    if (!forgotten.ok()) return error_of(forgotten);
  }
  // Bucket 0's hash is the sale's: finish_drop removes it.
  if (tag != domain::sale_tag(sale_id)) {
    auto removed = client_.command_sync({"UNLINK", keys::sale_in(tag, sale_id)});
    if (!removed.ok()) return error_of(removed);
  }
  return Empty{};
}

Reply SaleArchive::announce_dropped(const std::string& sale_id) {
  return client_.command_sync(
      {"XADD", keys::dropped, "MAXLEN", "~", std::to_string(limits::dropped_maxlen), "*", "sale_id", sale_id});
}

domain::Result<Empty> SaleArchive::drop_stream_entries(const std::string& sale_id, const std::string& tag) {
  const auto batch = std::to_string(limits::drop_batch);
  for (const auto& [stream, group] : {std::pair{keys::queue(tag), keys::windows_group},
                                      std::pair{keys::outcomes(tag), keys::mirror_group},
                                      std::pair{keys::changes(tag), ""}}) {
    std::string after;
    do {
      auto step =
          client_.eval_sync(scripts::drop_stream_entries(), {stream}, {sale_id, keys::prefix(tag), group, after, batch});
      if (!step.ok() || step.elements.size() < 2) return error_of(step);
      after = step.elements[0].str;
    } while (!after.empty());
  }
  return Empty{};
}

domain::Result<Empty> SaleArchive::drop_orders(const std::string& sale_id, const std::string& tag) {
  // SCAN goes over the whole keyspace (of the tag's master, on a Redis
  // Cluster: where every key of the tag is) in steps, and a key of another
  // sale is only read, never removed.
  const auto pattern = keys::prefix(tag) + "order:*";
  std::string cursor = "0";
  do {
    auto page = client_.command_sync_for_key(
        pattern, {"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(limits::drop_batch)});
    if (!page.ok() || page.elements.size() < 2) return error_of(page);
    cursor = page.elements[0].str;
    std::vector<std::string> script_keys{keys::confirmed(tag)};
    for (const auto& key : page.elements[1].elements) script_keys.push_back(key.str);
    if (script_keys.size() == 1) continue;
    auto removed = client_.eval_sync(scripts::drop_orders(), std::move(script_keys), {sale_id});
    if (!removed.ok()) return error_of(removed);
  } while (cursor != "0");
  return Empty{};
}

}  // namespace flashgate::store::redis
