#pragma once
// A hash map split into shards, for the maps that grow to millions of
// entries under one lock (orders by id, holders by user). A single
// unordered_map rehashes all of itself when it grows: at a million orders
// that held the store's lock for tens of milliseconds, every request behind
// it waiting (the p99 of a long sale). A shard rehashes a 64th of it.
// Not thread-safe: callers hold their own lock, as they did for the map.
#include <array>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace flashgate::store {

template <class Value, std::size_t ShardCount = 64>
class ShardedMap {
 public:
  Value* find(const std::string& key) {
    auto& shard = shard_of(key);
    auto it = shard.find(key);
    return it == shard.end() ? nullptr : &it->second;
  }
  const Value* find(const std::string& key) const { return const_cast<ShardedMap*>(this)->find(key); }

  Value& at(const std::string& key) {
    if (auto* value = find(key)) return *value;
    throw std::out_of_range("no entry for " + key);
  }

  // The entry for `key`, made from `args` if there was none; true if made.
  template <class... Args>
  std::pair<Value*, bool> try_emplace(const std::string& key, Args&&... args) {
    auto [it, made] = shard_of(key).try_emplace(key, std::forward<Args>(args)...);
    if (made) ++size_;
    return {&it->second, made};
  }

  Value& operator[](const std::string& key) { return *try_emplace(key).first; }

  bool erase(const std::string& key) {
    const bool erased = shard_of(key).erase(key) > 0;
    if (erased) --size_;
    return erased;
  }

  std::size_t size() const { return size_; }

 private:
  std::unordered_map<std::string, Value>& shard_of(const std::string& key) {
    // The shard from the high bits, so each shard's own buckets (low bits) stay well spread.
    return shards_[(std::hash<std::string>{}(key) >> 40) % ShardCount];
  }

  std::array<std::unordered_map<std::string, Value>, ShardCount> shards_;
  std::size_t size_ = 0;
};

}  // namespace flashgate::store
