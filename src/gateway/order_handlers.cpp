// POST /api/sales/{id}/orders, GET /api/orders/status
#include <boost/json/monotonic_resource.hpp>

#include <chrono>
#include <map>

#include "domain/ids.hpp"
#include "gateway/api.hpp"
#include "gateway/json_body.hpp"
#include "gateway/render.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

domain::Result<std::string> parse_user_id(std::string_view text) {
  const domain::Error invalid_id{ErrorCode::invalid_request, "user_id must be 1-64 characters of [A-Za-z0-9._:-]"};
  // {"user_id":"..."} as every client sends it: read without a parser.
  if (auto plain = sole_id_member(text, "user_id")) {
    if (!domain::is_valid_id(*plain)) return invalid_id;
    return std::string(*plain);
  }
  // The body of an intake is small: read into this buffer, not the heap.
  unsigned char buffer[1024];
  boost::json::monotonic_resource memory(buffer, sizeof buffer);
  auto body = parse_json_object(text, &memory);
  if (!body) return body.error();
  if (auto unknown = only_fields(body.value(), {"user_id"})) return *unknown;
  auto user_id = required_string(body.value(), "user_id");
  if (!user_id) return user_id.error();
  if (!domain::is_valid_id(user_id.value())) return invalid_id;
  return user_id;
}

}  // namespace

// A forged or stale ticket costs the server a decryption, nothing more.
std::optional<domain::TicketClaims> ticket_or_reply(const ApiContext& api, const ExchangePtr& ex,
                                                    const QueryParams& query) {
  std::string decoded;
  const auto ticket = query.get("ticket", decoded);
  if (!ticket || ticket->empty()) {
    ex->respond(error_response(ErrorCode::invalid_request, "the ticket query parameter is required"));
    return std::nullopt;
  }
  auto claims = api.tickets.open(*ticket, domain::now_ms());
  if (!claims) {
    ex->respond(error_response(claims.error()));
    return std::nullopt;
  }
  return std::move(claims).value();
}

void add_order_routes(Router& router, ApiContext& api) {
  // Every outcome's counter made once, so that counting on the hot path is one atomic add.
  auto outcomes = std::make_shared<std::map<std::string, metrics::Counter*, std::less<>>>();
  for (std::string_view outcome : {"accepted", "repeat"})
    (*outcomes)[std::string(outcome)] = &api.metrics.counter("flashgate_intake_total", "Intake requests by outcome",
                                                             "outcome=\"" + std::string(outcome) + "\"");
  for (int code = 0; code <= static_cast<int>(ErrorCode::internal); ++code) {
    const std::string name(domain::error_name(static_cast<ErrorCode>(code)));
    (*outcomes)[name] =
        &api.metrics.counter("flashgate_intake_total", "Intake requests by outcome", "outcome=\"" + name + "\"");
  }
  auto& store_seconds = api.metrics.histogram("flashgate_store_seconds", "Time of a Store call, by operation",
                                              "op=\"intake\"", {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2});
  router.add("POST", "/api/sales/{sale_id}/orders", [&api, outcomes, &store_seconds](const ExchangePtr& ex) {
    auto count = [outcomes](std::string_view outcome) {
      if (auto it = outcomes->find(outcome); it != outcomes->end()) it->second->inc();
    };
    const std::string sale_id(ex->request().param("sale_id"));
    if (!domain::is_valid_id(sale_id)) {
      count("invalid_request");
      return ex->respond(error_response(ErrorCode::invalid_request, "sale_id must be 1-64 characters of [A-Za-z0-9._:-]"));
    }
    auto user_id = parse_user_id(ex->request().body);
    if (!user_id) {
      count("invalid_request");
      return ex->respond(error_response(user_id.error()));
    }
    if (!within_rate_or_reply(api, api.intake_limiter, ex)) return count("too_many_requests");
    const auto started = std::chrono::steady_clock::now();
    api.store.intake(sale_id, user_id.value(), [&api, ex, count, &store_seconds, started](auto outcome) {
      store_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (!outcome) {
        count(domain::error_name(outcome.error().code));
        return ex->respond(error_response(outcome.error()));
      }
      const auto& view = outcome.value().view;
      // The order is the user's own (found by, or made for, this user): its user id is theirs.
      const std::string ticket =
          api.tickets.seal(view.order.order_id, view.order.sale_id, view.order.user_id, domain::now_ms());
      count(outcome.value().created ? "accepted" : "repeat");
      ex->respond(json_response(outcome.value().created ? 202 : 200, render_intake(view, ticket)));
    });
  });
}

}  // namespace flashgate::gateway
