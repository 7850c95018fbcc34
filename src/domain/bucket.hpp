#pragma once
// A sale's buckets (issue #25): in a shared store its stock may be split into
// N buckets, each under a hash tag of its own, so that a Redis Cluster spreads
// one hot sale over its shards. A buyer always lands in one bucket (their
// home), which holds what "one order per buyer" and max_per_buyer check.
#include <cstdint>
#include <string>
#include <string_view>

namespace flashgate::domain {

// Which tag each bucket's keys carry is the store's: store/redis/bucket_tags.hpp
// spreads them over a Redis Cluster's slots.
// The buyer's home bucket among `buckets`: a stable hash of the buyer (BLAKE2b), the same in every process.
std::int64_t home_bucket(std::string_view user_id, std::int64_t buckets);
// The units bucket `bucket` starts with: the stock split evenly, the first (stock mod buckets) one more.
std::int64_t bucket_share(std::int64_t stock, std::int64_t buckets, std::int64_t bucket);

}  // namespace flashgate::domain
