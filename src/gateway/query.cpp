
#include <algorithm>

#include "gateway/api.hpp"

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

bool key_is(std::string_view raw_key, std::string_view name) {
  if (!needs_decoding(raw_key)) return raw_key == name;
  std::string key;
  return decode_component(raw_key, key) && key == name;
}

}  // namespace

// Written here rather than taken from Boost.URL 1.81, whose parse_query reads
// past the end of a query that is not NUL-terminated (found by fuzz_query).
std::optional<std::string_view> query_param(std::string_view query, std::string_view name, std::string& decoded) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (key_is(pair.substr(0, eq), name)) {
      if (eq == std::string_view::npos) return std::string_view();
      const auto value = pair.substr(eq + 1);
      if (!needs_decoding(value)) return value;  // tickets, numbers: the common case
      if (!decode_component(value, decoded)) return std::nullopt;  // a broken escape reads as absent
      return std::string_view(decoded);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string client_address(const ApiContext& api, const Request& request) {
  const auto trusted = [&api](std::string_view address) {
    return std::find(api.trusted_proxies.begin(), api.trusted_proxies.end(), address) != api.trusted_proxies.end();
  };
  if (!trusted(request.client_address)) return request.client_address;
  // The rightmost address that is not one of our proxies is the client.
  std::string_view forwarded = request.header("x-forwarded-for");
  while (!forwarded.empty()) {
    const auto comma = forwarded.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (!hop.empty() && !trusted(hop)) return std::string(hop);
    if (comma == std::string_view::npos) break;
    forwarded = forwarded.substr(0, comma);
  }
  return request.client_address;
}

bool within_rate_or_reply(const ApiContext& api, RateLimiter& limiter, const ExchangePtr& ex) {
  std::int64_t retry_after_s = 1;
  if (limiter.allow(client_address(api, ex->request()), retry_after_s)) return true;
  ex->respond(retry_response(domain::ErrorCode::too_many_requests, "too many requests; retry later", retry_after_s));
  return false;
}

}  // namespace flashgate::gateway
