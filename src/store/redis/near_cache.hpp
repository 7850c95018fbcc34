#pragma once
// A gateway's memory of status objects it has seen, kept fresh by the change
// feed, so that polls are answered without a network round trip. Bounded:
// the least recently used orders are forgotten first (within their shard).
//
// Every poll of a distributed gateway reads it, from every I/O thread, so it
// is split by order id into shards, each with its own lock, LRU list and
// share of the capacity: behind one lock the I/O threads waited for each
// other on every poll (futex waits and context switches were a seventh of a
// poll's time in a profile).
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "domain/order.hpp"

namespace flashgate::store::redis {

// What a position and a poll hint need from the sale, as the feed reports it.
struct SaleProgress {
  std::uint64_t started = 0;
  double rate = 0.0;  // raw starts per second at rate_at (see domain::measured_rate)
  domain::TimeMs rate_at = 0;
  domain::TimeMs rate_since = 0;  // the first start of the rate's run
  domain::TimeMs draw_at = 0;     // a draw sale's draw (its ENTERED orders carry it); 0: none
};

class NearCache {
 public:
  explicit NearCache(std::size_t capacity);

  // Keeps the newer version; false if an older one arrived late.
  bool update(const domain::Order& order, const SaleProgress& progress);
  std::optional<domain::Order> find(const std::string& order_id);
  // Forgets every order whose id starts with `prefix` (a sale tag's "T-"):
  // the feed may have lost changes to them. Returns how many.
  std::size_t forget_prefix(std::string_view prefix);
  // Forgets the orders and the progress of an archived sale. Returns how many orders.
  std::size_t forget_sale(const std::string& sale_id);
  // The progress of the sale, or of one bucket of a bucketed sale: an order's seq counts within its bucket.
  SaleProgress progress(const std::string& sale_id, std::int64_t bucket = 0) const;
  SaleProgress progress(const domain::Order& order) const { return progress(order.sale_id, order.bucket); }

  std::uint64_t hits() const;
  std::uint64_t misses() const;
  std::size_t size() const;

 private:
  // A small cache has one shard, so that its bound and its order of
  // forgetting are those of the whole; a large one has many.
  static constexpr std::size_t max_shards = 64;
  static constexpr std::size_t min_orders_per_shard = 1024;

  using Lru = std::list<std::string>;  // most recent first
  struct Entry {
    domain::Order order;
    Lru::iterator lru;
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;  // guards the rest of the shard (polls, script replies and the feed meet here)
    std::size_t capacity = 0;
    std::unordered_map<std::string, Entry> orders;
    Lru lru;
    std::uint64_t hits = 0, misses = 0;
  };

  Shard& shard_of(const std::string& order_id);
  // The sum of one count over the shards, each read under its lock (for metrics).
  std::uint64_t sum_over_shards(std::uint64_t (*part)(const Shard&)) const;

  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
  mutable std::shared_mutex sales_mutex_;  // guards sales_: read by every poll, written by the feed
  std::unordered_map<std::string, SaleProgress> sales_;  // by sale id, and "<sale id>#<bucket>" for buckets 1..
};

}  // namespace flashgate::store::redis
