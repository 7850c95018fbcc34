#include "gateway/json_writer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace flashgate::gateway {
namespace {

// Per byte: 0 = copied as is, 'u' = \u00xx, any other = that letter after a
// backslash. The same table as boost::json's serializer.
constexpr std::array<char, 256> escapes = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = 'u';
  table['\b'] = 'b';
  table['\t'] = 't';
  table['\n'] = 'n';
  table['\f'] = 'f';
  table['\r'] = 'r';
  table['"'] = '"';
  table['\\'] = '\\';
  return table;
}();

// True if any of the eight bytes of w needs escaping: below 0x20, '"' or '\'.
// The "has less" and "has zero" tricks of Bit Twiddling Hacks, exact for
// "any byte", which is all that is asked: a clean word is copied whole.
constexpr bool needs_escape(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
  auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  return (((w - ones * 0x20) & ~w & highs) | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'))) != 0;
}

char* write_escaped(char* out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    if (i + 8 <= s.size()) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if (!needs_escape(word)) {
        std::memcpy(out, &word, sizeof word);
        out += sizeof word;
        i += 8;
        continue;
      }
    }
    const auto byte = static_cast<unsigned char>(s[i++]);
    const char e = escapes[byte];
    if (e == 0) {
      *out++ = static_cast<char>(byte);
    } else if (e == 'u') {
      const char u[] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 15]};
      std::memcpy(out, u, sizeof u);
      out += sizeof u;
    } else {
      *out++ = '\\';
      *out++ = e;
    }
  }
  return out;
}

}  // namespace

char* write_json_string(char* out, std::string_view s) {
  *out++ = '"';
  out = write_escaped(out, s);
  *out++ = '"';
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t used = out.size();
  out.resize(used + json_string_room(s.size()));
  char* end = write_json_string(out.data() + used, s);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

JsonWriter& JsonWriter::string(std::string_view a, std::string_view b) {
  char* p = room(json_string_room(a.size() + b.size()));
  *p++ = '"';
  p = write_escaped(write_escaped(p, a), b);
  *p++ = '"';
  cur_ = p;
  return *this;
}

void JsonWriter::grow(std::size_t n) {
  const auto used = static_cast<std::size_t>(cur_ - out_.data());
  out_.resize(std::max(2 * out_.size(), used + n));
  cur_ = out_.data() + used;
  end_ = out_.data() + out_.size();
}

}  // namespace flashgate::gateway
