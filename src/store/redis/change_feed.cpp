#include "store/redis/change_feed.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "platform/thread_name.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

ChangeFeed::ChangeFeed(ConsumerGroups& groups, NearCache& cache, SoldOutBook& sold_out,
                       const std::atomic<std::int64_t>& service_time_ms, BlockingLinkMaker open_connection)
    : groups_(groups),
      cache_(cache),
      sold_out_(sold_out),
      service_time_ms_(service_time_ms),
      open_connection_(std::move(open_connection)) {}

void ChangeFeed::follow() {
  connection_ = open_connection_();
  thread_ = std::thread([this] {
    platform::name_this_thread("fg-redis-feed");
    tail_loop();
  });
}

void ChangeFeed::stop() {
  stopping_ = true;
  if (connection_) connection_->shutdown();
  if (thread_.joinable()) thread_.join();
}

void ChangeFeed::on_change(OrderDesk::ChangeListener listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.push_back(std::move(listener));
}

void ChangeFeed::on_sale_dropped(StockLedger::SaleDroppedListener listener) {
  std::lock_guard lock(listeners_mutex_);
  dropped_listeners_.push_back(std::move(listener));
}

void ChangeFeed::forget_sale(const std::string& sale_id) {
  cache_.forget_sale(sale_id);
  sold_out_.forget(sale_id);
  std::vector<StockLedger::SaleDroppedListener> listeners;
  {
    std::lock_guard lock(listeners_mutex_);
    listeners = dropped_listeners_;
  }
  for (const auto& listener : listeners) listener(sale_id);
}

void ChangeFeed::tail_loop() {
  // Last id read per stream: after a lost connection the feed goes on from
  // there, so no change is missed. fg:dropped is read with the change
  // streams: the sales other processes archived.
  std::map<std::string, std::string> last;
  bool first = true;
  std::chrono::steady_clock::time_point gaps_checked{};
  while (!stopping_) {
    if (track_streams(last, first)) first = false;
    // Checked before reading on, every gap_check_period: after a stall that
    // long the next read would carry the position past the gap unnoticed.
    // Unknown (Redis unreachable): nothing is read.
    if (const auto now = std::chrono::steady_clock::now(); now - gaps_checked >= limits::gap_check_period) {
      if (!check_lost_changes(last)) {
        if (!stopping_) std::this_thread::sleep_for(limits::feed_retry_pause);
        continue;
      }
      gaps_checked = now;
    }
    for (const auto& sale_id : sold_out_.take_wanted()) follow_sold_out(sale_id);
    if (last.empty()) {
      std::this_thread::sleep_for(limits::feed_idle_pause);
      continue;
    }
    // Split by slot on a Redis Cluster (stream_reads.hpp): the slots read
    // are applied even when another failed, their positions move on.
    const auto read = reads_.read(*connection_, {"XREAD", "COUNT", std::to_string(limits::feed_read_count)},
                                  limits::feed_block, limits::feed_read_timeout - limits::feed_block, last);
    apply(read.streams, last);
    if (read.first_error.type != Reply::Type::nil && !stopping_) std::this_thread::sleep_for(limits::feed_retry_pause);
  }
}

bool ChangeFeed::track_streams(std::map<std::string, std::string>& last, bool first) {
  std::set<std::string> wanted{keys::dropped};
  for (const auto& tag : groups_.tags()) wanted.insert(keys::changes(tag));
  if (first && !groups_.tags_read()) return false;  // Redis has not told which streams exist yet
  // A tag whose sales were all archived is no longer tailed.
  std::erase_if(last, [&wanted](const auto& entry) { return !wanted.contains(entry.first); });
  // Streams known at start begin at their end; a sale created later is read from its beginning.
  bool ends_found = true;
  for (const auto& key : wanted) {
    if (last.contains(key)) continue;
    std::string from = "0-0";
    if (first) {
      auto newest = connection_->command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
      if (!newest.ok()) {  // its end unknown: looked for again next round, never read from its beginning
        ends_found = false;
        continue;
      }
      if (!newest.elements.empty()) from = newest.elements[0].elements.at(0).str;
    }
    last[key] = from;
  }
  return ends_found;
}

void ChangeFeed::apply(const Reply& reply, std::map<std::string, std::string>& last) {
  for (const auto& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    const bool dropped = stream.elements[0].str == keys::dropped;
    auto& position = last[stream.elements[0].str];
    for (const auto& entry : stream.elements[1].elements) {
      if (entry.elements.size() < 2) continue;
      position = entry.elements[0].str;
      if (dropped) {
        const auto fields = as_map(entry.elements[1]);
        if (auto it = fields.find("sale_id"); it != fields.end()) forget_sale(it->second);
        continue;
      }
      auto parsed = parse_order(entry.elements[1].elements, 0);
      if (parsed.order.order_id.empty()) continue;
      sold_out_.apply(parsed.order, parsed.remaining);
      // Older than the cache's when this process's own script reply (a
      // claim, finish or payment made here) got there first: the cache keeps
      // the newer one, but the listeners were told of neither yet, and they
      // hear of every change, in the feed's order.
      cache_.update(parsed.order, parsed.progress);
      const auto view = view_of(parsed.order, cache_.progress(parsed.order), service_time_ms_.load());
      std::vector<OrderDesk::ChangeListener> listeners;
      {
        std::lock_guard lock(listeners_mutex_);
        listeners = listeners_;
      }
      for (const auto& listener : listeners) listener(view);
    }
  }
}

bool ChangeFeed::check_lost_changes(const std::map<std::string, std::string>& last) {
  for (const auto& tag : groups_.tags()) {
    const auto position = last.find(keys::changes(tag));
    if (position == last.end()) continue;
    // Only trimming removes entries from a change stream: if it removed any,
    // and the oldest entry left is past what this process has read, the
    // entries in between are gone unread.
    auto info = connection_->command_for_key(position->first, {"XINFO", "STREAM", position->first});
    if (info.connection_failed()) return false;  // (a stream not written yet answers an error: nothing lost)
    long long added = 0, length = 0;
    std::string oldest;
    for (std::size_t i = 0; i + 1 < info.elements.size(); i += 2) {
      const auto& name = info.elements[i].str;
      if (name == "entries-added") added = info.elements[i + 1].integer;
      else if (name == "length") length = info.elements[i + 1].integer;
      else if (name == "recorded-first-entry-id") oldest = info.elements[i + 1].str;
    }
    if (added <= length || entry_order(oldest) <= entry_order(position->second)) continue;
    const auto forgotten = cache_.forget_prefix(tag + "-");
    sold_out_.lost_changes(tag);
    spdlog::warn("change feed {}: changes before {} were trimmed before this process read them (it read up to {}); "
                 "{} cached orders of the tag forgotten, read from Redis again",
                 position->first, oldest, position->second, forgotten);
  }
  return true;
}

// On the feed thread, so the snapshot falls between feed entries: the ones
// read before it are in it, the ones after it are applied on top.
void ChangeFeed::follow_sold_out(const std::string& sale_id) {
  auto sale =
      connection_->command({"HMGET", keys::sale(sale_id), "remaining", "starts_at", "ends_at", "max_per_buyer", "items"});
  auto holders = connection_->command({"HGETALL", keys::users(sale_id)});
  if (!sale.ok() || !holders.ok() || sale.elements.size() != 5 || sale.elements[0].type != Reply::Type::string) {
    if (!sale.ok() || !holders.ok()) sold_out_.want(sale_id);  // try again on the next round
    return;
  }
  SoldOutBook::Snapshot snapshot;
  snapshot.remaining = to_int(sale.elements[0].str);
  snapshot.starts_at = to_optional(sale.elements[1].str);
  snapshot.ends_at = to_optional(sale.elements[2].str);
  snapshot.max_per_buyer = to_optional(sale.elements[3].str).value_or(1);  // absent: a sale of before quantities
  snapshot.items = item_ids(sale.elements[4].str);
  for (std::size_t i = 0; i + 1 < holders.elements.size(); i += 2)
    snapshot.holders.emplace_back(holders.elements[i].str, holders.elements[i + 1].str);
  sold_out_.follow(sale_id, std::move(snapshot));
}

}  // namespace flashgate::store::redis
