#pragma once
// A gateway's memory of status objects it has seen, kept fresh by the change
// feed, so that polls are answered without a network round trip. Bounded:
// the least recently used orders are forgotten first.
#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "domain/order.hpp"
#include "store/sharded_map.hpp"

namespace flashgate::store::redis {

// What a position and a poll hint need from the sale, as the feed reports it.
struct SaleProgress {
  std::uint64_t started = 0;
  double rate = 0.0;  // starts per second at rate_at
  domain::TimeMs rate_at = 0;
};

class NearCache {
 public:
  explicit NearCache(std::size_t capacity) : capacity_(capacity) {}

  // Keeps the newer version; false if an older one arrived late.
  bool update(const domain::Order& order, const SaleProgress& progress);
  std::optional<domain::Order> find(const std::string& order_id);
  SaleProgress progress(const std::string& sale_id);

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }
  std::size_t size() const;

 private:
  using Lru = std::list<std::string>;
  struct Entry {
    domain::Order order;
    Lru::iterator lru;
  };
  std::size_t capacity_;
  mutable std::mutex mutex_;
  ShardedMap<Entry> orders_;
  std::unordered_map<std::string, SaleProgress> sales_;
  Lru lru_;  // most recent first
  std::atomic<std::uint64_t> hits_{0}, misses_{0};
};

}  // namespace flashgate::store::redis
