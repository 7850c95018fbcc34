#include "domain/bucket.hpp"

#include <sodium.h>

#include "domain/ids.hpp"

namespace flashgate::domain {

std::int64_t home_bucket(std::string_view user_id, std::int64_t buckets) {
  if (buckets <= 1) return 0;
  unsigned char hash[crypto_generichash_BYTES_MIN];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(user_id.data()), user_id.size(),
                     nullptr, 0);
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | hash[i];
  return static_cast<std::int64_t>(value % static_cast<std::uint64_t>(buckets));
}

std::int64_t bucket_share(std::int64_t stock, std::int64_t buckets, std::int64_t bucket) {
  if (buckets <= 1) return stock;
  return stock / buckets + (bucket < stock % buckets ? 1 : 0);
}

}  // namespace flashgate::domain
