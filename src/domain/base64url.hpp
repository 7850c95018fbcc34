#pragma once
// base64url without padding (RFC 4648 section 5), the spelling of tickets.
// Strict: only the one canonical spelling of a byte string decodes.
//
// Table driven, so not constant time, unlike libsodium's codec (which cost a
// third of opening a ticket): it only ever handles tickets, which are
// ciphertext and travel in clear, so their bytes are no secret to hide.
#include <cstddef>
#include <optional>
#include <string_view>

namespace flashgate::domain {

constexpr std::size_t base64url_length(std::size_t bytes) {
  return bytes / 3 * 4 + (bytes % 3 == 0 ? 0 : bytes % 3 + 1);
}

// Writes base64url_length(size) characters to out.
void encode_base64url(const unsigned char* data, std::size_t size, char* out);

// Decodes text into out, which has room for text.size() * 3 / 4 bytes, and
// gives the number of bytes; nullopt unless text is canonical: only the
// alphabet, no padding, no length of 1 mod 4, and the unused low bits of the
// last character zero (otherwise several spellings would give the same bytes).
std::optional<std::size_t> decode_base64url(std::string_view text, unsigned char* out);

}  // namespace flashgate::domain
