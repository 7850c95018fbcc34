#pragma once
// Orders by id, for a store of millions of them. Ids are the store's own
// (20 characters), so each is kept in place in an open-addressing slot next
// to a pointer to its entry: a look-up reads the slot group's metadata, the
// slot, and the entry. The node-based map keyed by std::string that this
// replaces read the bucket, the node before the entry's, the entry's node
// and the key's characters on the heap: with 1.2 million orders in the
// store that look-up was 10% of a poll's cycles (perf), against 5% with
// 10,000, and a poll cost 12% more CPU.
// Entries live behind pointers: a reference stays good until its entry is
// erased, whatever is inserted meanwhile.
// Not thread-safe: callers hold their own lock.
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace flashgate::store {

// A key of at most `capacity` bytes, held in place (zero-padded, so that
// equal keys are equal bytes).
class ShortKey {
 public:
  static constexpr std::size_t capacity = 31;
  static bool fits(std::string_view text) { return text.size() <= capacity; }

  // Only for text that fits().
  explicit ShortKey(std::string_view text) : size_(static_cast<std::uint8_t>(text.size())) {
    if (!text.empty()) std::memcpy(bytes_.data(), text.data(), text.size());
  }
  std::string_view view() const { return {bytes_.data(), size_}; }
  friend bool operator==(const ShortKey&, const ShortKey&) = default;

 private:
  std::array<char, capacity> bytes_{};
  std::uint8_t size_;
};

struct ShortKeyHash {
  std::size_t operator()(const ShortKey& key) const noexcept { return std::hash<std::string_view>{}(key.view()); }
};

template <class Value, std::size_t ShardCount = 64>
class ShortKeyMap {
  using Shard = boost::unordered_flat_map<ShortKey, std::unique_ptr<Value>, ShortKeyHash>;

 public:
  // nullptr if absent; a key longer than ShortKey::capacity is never present.
  Value* find(std::string_view key) {
    if (!ShortKey::fits(key)) return nullptr;
    const ShortKey k(key);
    auto& shard = shard_of(k);
    auto it = shard.find(k);
    return it == shard.end() ? nullptr : it->second.get();
  }
  const Value* find(std::string_view key) const { return const_cast<ShortKeyMap*>(this)->find(key); }

  Value& at(std::string_view key) {
    if (auto* value = find(key)) return *value;
    throw std::out_of_range("no entry for " + std::string(key));
  }

  // The entry for `key`, made from `args` if there was none; true if made.
  // Throws std::length_error for a key longer than ShortKey::capacity.
  template <class... Args>
  std::pair<Value*, bool> try_emplace(std::string_view key, Args&&... args) {
    if (!ShortKey::fits(key)) throw std::length_error("key too long for a ShortKeyMap: " + std::string(key));
    const ShortKey k(key);
    auto& shard = shard_of(k);
    auto [it, made] = shard.try_emplace(k);
    if (made) {
      try {
        it->second = std::make_unique<Value>(std::forward<Args>(args)...);
      } catch (...) {
        shard.erase(it);  // no slot without its entry
        throw;
      }
      ++size_;
    }
    return {it->second.get(), made};
  }

  bool erase(std::string_view key) {
    if (!ShortKey::fits(key)) return false;
    const ShortKey k(key);
    const bool erased = shard_of(k).erase(k) > 0;
    if (erased) --size_;
    return erased;
  }

  std::size_t size() const { return size_; }

  // Calls visit(key, value) for every entry, in no particular order.
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (const auto& shard : shards_)
      for (const auto& [key, value] : shard) visit(key.view(), *value);
  }

  // Gives back the room of shards that erasing left mostly empty (a table
  // keeps its slots after erase); each shard rehashes only its own entries.
  void shrink_sparse() {
    for (auto& shard : shards_)
      if (shard.size() < shard.bucket_count() / 4) shard.rehash(0);
  }

 private:
  Shard& shard_of(const ShortKey& key) {
    // The shard from the high bits; the shard's table mixes the hash for its own slots.
    return shards_[(ShortKeyHash{}(key) >> 40) % ShardCount];
  }

  std::array<Shard, ShardCount> shards_;
  std::size_t size_ = 0;
};

}  // namespace flashgate::store
