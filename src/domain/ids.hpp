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
