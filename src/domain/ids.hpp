#pragma once
#include <string_view>

namespace flashgate::domain {

inline constexpr std::size_t max_id_length = 64;

// Ids (sale, user, order, payment) are 1-64 bytes of [A-Za-z0-9._:-]: safe in
// URLs, logs, Redis keys and SQL without escaping.
bool is_valid_id(std::string_view id);

}  // namespace flashgate::domain

#include <string>

namespace flashgate::domain {

// 20 hex characters from the system's CSPRNG: unique across processes
// without coordination, and not guessable from another order's id.
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
