#pragma once
// Removing an archived sale's keys from Redis (RedisStore::drop_sale), in
// the steps scripts.hpp lists. Resumable: each step may run again, and a
// sale already gone is success. Every process forgets the sale once done
// (fg:dropped, read by each process's change feed).
#include <cstdint>
#include <optional>
#include <string>

#include "domain/errors.hpp"
#include "store/redis/change_feed.hpp"
#include "store/redis/redis_link.hpp"
#include "store/store.hpp"

namespace flashgate::store::redis {

class SaleArchive {
 public:
  SaleArchive(RedisLink& client, ChangeFeed& feed) : client_(client), feed_(feed) {}

  domain::Result<Empty> drop_sale(const std::string& sale_id);

 private:
  // How many buckets the sale has (1 for most); nullopt if Redis could not say.
  std::optional<std::int64_t> bucket_count(const std::string& sale_id);
  // One bucket's keys (bucket 0's: the sale's, but for its sale hash, which finish_drop removes).
  domain::Result<Empty> drop_bucket(const std::string& sale_id, const std::string& tag);
  // Another sale in fg:sales or fg:dropping has this tag (as its own or a bucket's); nullopt if Redis could not say.
  std::optional<bool> tag_shared(const std::string& sale_id, const std::string& tag);
  // With the tag shared: the sale's entries in the tag's streams go, the rest stays.
  domain::Result<Empty> drop_stream_entries(const std::string& sale_id, const std::string& tag);
  // The sale's order hashes, found by their key's prefix.
  domain::Result<Empty> drop_orders(const std::string& sale_id, const std::string& tag);

  // Tells every process (their change feeds) the sale is archived.
  Reply announce_dropped(const std::string& sale_id);

  RedisLink& client_;
  ChangeFeed& feed_;  // forget_sale, once the keys are gone
};

}  // namespace flashgate::store::redis
