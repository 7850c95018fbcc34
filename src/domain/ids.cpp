#include "domain/ids.hpp"

namespace flashgate::domain {

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > max_id_length) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace flashgate::domain

#include <sodium.h>

namespace flashgate::domain {

std::string new_order_id() {
  unsigned char raw[10];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return std::string(hex, sizeof raw * 2);
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
