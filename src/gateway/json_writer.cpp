#include "gateway/json_writer.hpp"

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

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet appended
  for (std::size_t i = 0; i < s.size();) {
    if (i + 8 <= s.size()) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if (!needs_escape(word)) {
        i += 8;
        continue;
      }
    }
    const auto byte = static_cast<unsigned char>(s[i++]);
    const char e = escapes[byte];
    if (e == 0) continue;
    out.append(s.data() + run, i - 1 - run);
    run = i;
    if (e == 'u') {
      const char u[] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 15]};
      out.append(u, sizeof u);
    } else {
      out += '\\';
      out += e;
    }
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  append_escaped(out, s);
  out += '"';
}

JsonWriter& JsonWriter::string(std::string_view a, std::string_view b) {
  out_ += '"';
  append_escaped(out_, a);
  append_escaped(out_, b);
  out_ += '"';
  return *this;
}

}  // namespace flashgate::gateway
