
#include "gateway/query.hpp"

namespace flashgate::gateway {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Two vectorised scans: find_first_of would call memchr on the set for every character.
bool needs_decoding(std::string_view text) {
  return text.find('%') != std::string_view::npos || text.find('+') != std::string_view::npos;
}

// Percent-decoding of one key or value ('+' is a space, as forms send it)
// into `out`; false for a broken escape.
bool decode_component(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return false;
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

// Written here rather than taken from Boost.URL 1.81, whose parse_query reads
// past the end of a query that is not NUL-terminated (found by fuzz_query).
// Each parameter costs one memchr for its end and a look at its key, which
// is short; a value is looked at only if asked for.
QueryParams::QueryParams(std::string_view query) {
  std::size_t at = 0;
  while (at < query.size()) {
    const std::size_t amp = query.find('&', at);
    const std::size_t end = amp == std::string_view::npos ? query.size() : amp;
    std::size_t end_of_key = at;
    bool key_escaped = false;
    for (; end_of_key < end && query[end_of_key] != '='; ++end_of_key)
      key_escaped |= query[end_of_key] == '%' || query[end_of_key] == '+';
    const bool has_value = end_of_key < end;
    params_.push_back(Param{query.substr(at, end_of_key - at),
                            has_value ? query.substr(end_of_key + 1, end - end_of_key - 1) : std::string_view(),
                            has_value, key_escaped});
    at = end + 1;
  }
}

std::optional<std::string_view> QueryParams::get(std::string_view name, std::string& decoded) const {
  for (const auto& param : params_) {
    bool match = param.key == name;
    if (!match && param.key_escaped) {
      std::string key;
      match = decode_component(param.key, key) && key == name;
    }
    if (!match) continue;
    if (!param.has_value) return std::string_view();
    if (!needs_decoding(param.value)) return param.value;  // tickets, numbers: the common case
    if (!decode_component(param.value, decoded)) return std::nullopt;  // a broken escape reads as absent
    return std::string_view(decoded);
  }
  return std::nullopt;
}

}  // namespace flashgate::gateway
