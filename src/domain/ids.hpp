#pragma once
#include <string_view>

namespace flashgate::domain {

inline constexpr std::size_t max_id_length = 64;

// Ids (sale, user, order, payment) are 1-64 bytes of [A-Za-z0-9._:-]: safe in
// URLs, logs, Redis keys and SQL without escaping.
bool is_valid_id(std::string_view id);
// One character of that set.
constexpr bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

}  // namespace flashgate::domain

#include <string>

namespace flashgate::domain {

// 20 hex characters, time-ordered: 11 of milliseconds since the epoch, 9 of
// a per-process counter that starts at a random point. Ids made close in
// time sort close together, so the databases' primary-key indexes grow at
// one edge (random ids dirtied one index page per insert: most of a group
// commit's writes); the counter keeps ids unique within a process, its
// random start keeps processes apart. Order ids are not secrets: tickets
// and payment signatures are what authorize.
std::string new_order_id();

}  // namespace flashgate::domain

namespace flashgate::domain {

// A short, stable hash of a sale id (8 hex characters). Every key of a sale
// in Redis carries it as a hash tag, and the distributed order ids start with
// it, so an order id alone leads to its sale's keys (and Cluster slot).
std::string sale_tag(std::string_view sale_id);
// "<tag>-<20 hex>": an order id that names its sale's tag.
std::string new_tagged_order_id(std::string_view sale_id);
// The tag at the front of a tagged order id; empty if it has none.
std::string_view tag_of_order(std::string_view order_id);

}  // namespace flashgate::domain
