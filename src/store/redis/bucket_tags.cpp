#include "store/redis/bucket_tags.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "domain/ids.hpp"
#include "store/redis/cluster/key_slot.hpp"

namespace flashgate::store::redis {

namespace {

using Tags = std::shared_ptr<const std::vector<std::string>>;

// Candidates "<sale>#1", "<sale>#2", ... are hashed in turn; each takes the
// bucket whose arc it falls in if that bucket has none yet. Bucket b's arc
// is b arcs after bucket 0's, so every arc holds exactly one bucket.
Tags compute(const std::string& sale_id, std::int64_t buckets) {
  std::vector<std::string> tags(static_cast<std::size_t>(buckets));
  tags[0] = domain::sale_tag(sale_id);
  const auto first_arc = slot_arc(tags[0], buckets);
  auto missing = buckets - 1;
  for (std::int64_t candidate = 1; missing > 0; ++candidate) {
    auto tag = domain::sale_tag(sale_id + "#" + std::to_string(candidate));
    const auto bucket = (slot_arc(tag, buckets) - first_arc + buckets) % buckets;
    auto& slot = tags[static_cast<std::size_t>(bucket)];
    if (bucket == 0 || !slot.empty()) continue;
    bool taken = false;
    for (const auto& other : tags) taken = taken || other == tag;
    if (taken) continue;
    slot = std::move(tag);
    --missing;
  }
  return std::make_shared<const std::vector<std::string>>(std::move(tags));
}

// Live sales are few; past this many the memo starts again rather than grow.
constexpr std::size_t memo_bound = 4096;

struct Memo {
  std::shared_mutex mutex;  // guards known
  std::map<std::pair<std::string, std::int64_t>, Tags> known;
};

Memo& memo() {
  static Memo instance;
  return instance;
}

Tags tags_of(const std::string& sale_id, std::int64_t buckets) {
  auto& m = memo();
  auto key = std::make_pair(sale_id, buckets);
  {
    std::shared_lock lock(m.mutex);
    if (auto found = m.known.find(key); found != m.known.end()) return found->second;
  }
  auto tags = compute(sale_id, buckets);
  std::unique_lock lock(m.mutex);
  if (m.known.size() >= memo_bound) m.known.clear();
  m.known.emplace(std::move(key), tags);
  return tags;
}

}  // namespace

std::int64_t slot_arc(const std::string& tag, std::int64_t buckets) {
  const auto slot = cluster::crc16_xmodem(tag) % cluster::slot_count;
  return static_cast<std::int64_t>(slot) * buckets / cluster::slot_count;
}

std::string bucket_tag(const std::string& sale_id, std::int64_t bucket, std::int64_t buckets) {
  if (bucket == 0 || buckets <= 1) return domain::sale_tag(sale_id);
  return (*tags_of(sale_id, buckets))[static_cast<std::size_t>(bucket)];
}

std::vector<std::string> bucket_tags(const std::string& sale_id, std::int64_t buckets) {
  if (buckets <= 1) return {domain::sale_tag(sale_id)};
  return *tags_of(sale_id, buckets);
}

}  // namespace flashgate::store::redis
