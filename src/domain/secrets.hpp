#pragma once
#include <string>
#include <string_view>

namespace flashgate::domain {

// Compares in time that depends on neither content nor length of `given`.
bool constant_time_equal(std::string_view given, std::string_view expected);
// Hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// A random secret of `bytes` bytes, hex-encoded.
std::string random_secret_hex(std::size_t bytes);

}  // namespace flashgate::domain
