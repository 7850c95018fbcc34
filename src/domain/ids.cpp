#include "domain/ids.hpp"

namespace flashgate::domain {

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > max_id_length) return false;
  for (char c : id)
    if (!is_id_char(c)) return false;
  return true;
}

}  // namespace flashgate::domain

#include <sodium.h>

#include <atomic>
#include <cstdint>

#include "domain/time.hpp"

namespace flashgate::domain {

namespace {

void put_hex(char* out, std::uint64_t value, int digits) {
  for (int i = digits - 1; i >= 0; --i, value >>= 4) out[i] = "0123456789abcdef"[value & 0xf];
}

std::uint64_t random_start() {
  std::uint64_t start = 0;
  randombytes_buf(&start, sizeof start);
  return start;
}

}  // namespace

std::string new_order_id() {
  static std::atomic<std::uint64_t> counter{random_start()};
  const auto ms = static_cast<std::uint64_t>(now_ms()) & ((std::uint64_t{1} << 44) - 1);
  const auto n = counter.fetch_add(1, std::memory_order_relaxed) & ((std::uint64_t{1} << 36) - 1);
  std::string id(20, '0');
  put_hex(id.data(), ms, 11);
  put_hex(id.data() + 11, n, 9);
  return id;
}

}  // namespace flashgate::domain

namespace flashgate::domain {

std::string sale_tag(std::string_view sale_id) {
  unsigned char hash[crypto_generichash_BYTES_MIN];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(sale_id.data()), sale_id.size(),
                     nullptr, 0);
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, hash, 4);
  return std::string(hex, 8);
}

std::string new_tagged_order_id(std::string_view sale_id) { return sale_tag(sale_id) + "-" + new_order_id(); }

std::string_view tag_of_order(std::string_view order_id) {
  if (order_id.size() != 29 || order_id[8] != '-') return {};
  for (char c : order_id.substr(0, 8))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  return order_id.substr(0, 8);
}

}  // namespace flashgate::domain
