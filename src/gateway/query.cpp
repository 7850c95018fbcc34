#include <boost/url/parse_query.hpp>

#include <algorithm>

#include "gateway/api.hpp"

namespace flashgate::gateway {

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto params = boost::urls::parse_query(query);
  if (!params) return std::nullopt;
  for (auto param : *params) {
    if (param.key != name) continue;
    if (!param.has_value) return std::string();
    return std::string(param.value);
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
  Response r = error_response(domain::ErrorCode::too_many_requests, "too many requests; retry later");
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  ex->respond(std::move(r));
  return false;
}

}  // namespace flashgate::gateway
