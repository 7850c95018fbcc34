#pragma once
// Where a bucketed sale's buckets live (docs/architecture.md "Buckets"):
// bucket 0 keeps the sale's own tag (a one-bucket sale is laid out as a sale
// without buckets); bucket b > 0 gets a tag whose Cluster slot lies in an
// N-th of the slot space of its own, the arcs dealt out in turn from bucket
// 0's. `redis-cli --cluster create` gives each master an equal run of slots,
// so N buckets on M masters land N/M to a master (one each when N == M)
// instead of wherever their hashes fall (with 3 hashed buckets on 3 masters,
// two share a master 7 times in 9). On a single Redis the tags only differ.
//
// Deterministic: every process computes the same tags, from the sale id and N
// alone. Kept once computed (a few hundred hashes for 64 buckets), since the
// intake asks for its buyer's home tag on every call; thread-safe.
#include <cstdint>
#include <string>
#include <vector>

namespace flashgate::store::redis {

// The tag of bucket `bucket` of a sale of `buckets` buckets.
std::string bucket_tag(const std::string& sale_id, std::int64_t bucket, std::int64_t buckets);
// Every bucket's tag, bucket 0's first.
std::vector<std::string> bucket_tags(const std::string& sale_id, std::int64_t buckets);

// The N-th of the slot space a tag's keys fall in ("{tag}" hashes the tag).
std::int64_t slot_arc(const std::string& tag, std::int64_t buckets);

}  // namespace flashgate::store::redis
