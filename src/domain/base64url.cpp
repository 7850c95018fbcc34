#include "domain/base64url.hpp"

#include <array>
#include <cstdint>

namespace flashgate::domain {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t not_base64 = 0xff;

constexpr std::array<std::uint8_t, 256> values = [] {
  std::array<std::uint8_t, 256> table{};
  table.fill(not_base64);
  for (std::uint8_t v = 0; v < 64; ++v) table[static_cast<unsigned char>(alphabet[v])] = v;
  return table;
}();

}  // namespace

void encode_base64url(const unsigned char* data, std::size_t size, char* out) {
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t v = data[i] << 16 | data[i + 1] << 8 | data[i + 2];
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[v >> 12 & 63];
    *out++ = alphabet[v >> 6 & 63];
    *out++ = alphabet[v & 63];
  }
  if (size - i == 1) {
    *out++ = alphabet[data[i] >> 2];
    *out++ = alphabet[(data[i] & 3) << 4];
  } else if (size - i == 2) {
    const std::uint32_t v = data[i] << 8 | data[i + 1];
    *out++ = alphabet[v >> 10];
    *out++ = alphabet[v >> 4 & 63];
    *out++ = alphabet[(v & 15) << 2];
  }
}

std::optional<std::size_t> decode_base64url(std::string_view text, unsigned char* out) {
  const std::size_t tail = text.size() % 4;
  if (tail == 1) return std::nullopt;  // six bits cannot make a byte
  auto value = [&text](std::size_t i) { return values[static_cast<unsigned char>(text[i])]; };
  std::size_t n = 0;
  std::size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const std::uint8_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if (((a | b | c | d) & 0xc0) != 0) return std::nullopt;  // not_base64 has these bits, values not
    const std::uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out[n++] = static_cast<unsigned char>(v >> 16);
    out[n++] = static_cast<unsigned char>(v >> 8);
    out[n++] = static_cast<unsigned char>(v);
  }
  if (tail == 2) {
    const std::uint8_t a = value(i), b = value(i + 1);
    if (((a | b) & 0xc0) != 0 || (b & 15) != 0) return std::nullopt;
    out[n++] = static_cast<unsigned char>(a << 2 | b >> 4);
  } else if (tail == 3) {
    const std::uint8_t a = value(i), b = value(i + 1), c = value(i + 2);
    if (((a | b | c) & 0xc0) != 0 || (c & 3) != 0) return std::nullopt;
    const std::uint32_t v = a << 12 | b << 6 | c;
    out[n++] = static_cast<unsigned char>(v >> 10);
    out[n++] = static_cast<unsigned char>(v >> 2);
  }
  return n;
}

}  // namespace flashgate::domain
