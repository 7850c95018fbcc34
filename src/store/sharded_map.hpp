#pragma once
// A hash map split into shards, for the maps that grow to millions of
// entries under one lock (holders by user; orders have a map of their own,
// short_key_map.hpp). A single
// unordered_map rehashes all of itself when it grows: at a million orders
// that held the store's lock for tens of milliseconds, every request behind
// it waiting (the p99 of a long sale). A shard rehashes a 64th of it.
// Small entries (a key and a value within a cache line, such as user ->
// order id) live in open-addressing shards (boost::unordered_flat_map): a
// look-up in a map of millions reads a line of metadata and the slot, where
// a node-based map read the bucket, the node before the entry and the entry.
// Large entries stay in node-based shards: an insertion into a flat table
// writes the whole entry into a random slot, several cache lines that a
// fresh node from the allocator does not miss. (cachegrind, 400k intakes'
// worth of inserts and look-ups: 60 L1 data misses each with both kinds of
// map node-based, 54 with both flat, 52 with flat holders and node-based
// orders. Orders have since moved to flat slots holding their id and a
// pointer, which a look-up in a store of millions misses least.)
// Entries of flat shards move when the shard grows, so a pointer from find()
// or try_emplace() is good until the next insertion into the map, whichever
// kind it is.
// Not thread-safe: callers hold their own lock, as they did for the map.
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace flashgate::store {

template <class Value, std::size_t ShardCount = 64>
class ShardedMap {
  using Shard = std::conditional_t<sizeof(std::pair<const std::string, Value>) <= 64,
                                   boost::unordered_flat_map<std::string, Value>, std::unordered_map<std::string, Value>>;

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
  Shard& shard_of(const std::string& key) {
    // The shard from the high bits, so each shard's own buckets (low bits) stay well spread.
    return shards_[(std::hash<std::string>{}(key) >> 40) % ShardCount];
  }

  std::array<Shard, ShardCount> shards_;
  std::size_t size_ = 0;
};

}  // namespace flashgate::store
