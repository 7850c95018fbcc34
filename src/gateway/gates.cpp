// What handlers check before they touch a store: the client's rate, the
// admin token, the ticket.
#include <algorithm>

#include "domain/secrets.hpp"
#include "gateway/handlers.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

std::string client_address(const TrustedProxies& proxies, const Request& request) {
  const auto trusted = [&proxies](std::string_view address) {
    return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
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

bool RateGate::pass_or_reply(const ExchangePtr& ex) const {
  return within_rate_or_reply(limiter, ex, client_address(proxies, ex->request()));
}

bool within_rate_or_reply(RateLimiter& limiter, const ExchangePtr& ex, const std::string& key) {
  std::int64_t retry_after_s = 1;
  if (limiter.allow(key, retry_after_s)) return true;
  ex->respond(retry_response(ErrorCode::too_many_requests, "too many requests; retry later", retry_after_s));
  return false;
}

bool AdminGate::pass_or_reply(const ExchangePtr& ex) const {
  constexpr std::string_view scheme = "Bearer ";
  const auto header = ex->request().header("authorization");
  if (header.size() > scheme.size() && header.substr(0, scheme.size()) == scheme &&
      domain::constant_time_equal(header.substr(scheme.size()), token))
    return true;
  Response r = error_response(ErrorCode::unauthorized, "a valid admin bearer token is required");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  ex->respond(std::move(r));
  return false;
}

// A forged or stale ticket costs the server a decryption, nothing more.
std::optional<domain::TicketClaims> ticket_or_reply(const domain::TicketCodec& tickets, const ExchangePtr& ex,
                                                    const QueryParams& query) {
  std::string decoded;
  const auto ticket = query.get("ticket", decoded);
  if (!ticket || ticket->empty()) {
    ex->respond(error_response(ErrorCode::invalid_request, "the ticket query parameter is required"));
    return std::nullopt;
  }
  auto claims = tickets.open(*ticket, domain::now_ms());
  if (!claims) {
    ex->respond(error_response(claims.error()));
    return std::nullopt;
  }
  return std::move(claims).value();
}

}  // namespace flashgate::gateway
