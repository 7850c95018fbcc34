// POST /api/sales/{id}/orders: the intake
#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <chrono>
#include <map>

#include "domain/ids.hpp"
#include "gateway/handlers.hpp"
#include "gateway/json_body.hpp"
#include "gateway/render.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

// What the body of an intake says: the user (absent where the buyer is
// already known: nullopt then), the quantity and the request id.
struct IntakeBody {
  std::optional<std::string> user_id;
  std::int64_t quantity = 1;
  std::string request_id;
  std::string item_id;  // which item of a sale of several ("item_id", or "item")
};

domain::Result<IntakeBody> parse_intake_body(std::string_view text, bool required) {
  const domain::Error invalid_id{ErrorCode::invalid_request, "user_id must be 1-64 characters of [A-Za-z0-9._:-]"};
  // {"user_id":"..."} as every client sends it: read without a parser.
  if (auto plain = sole_id_member(text, "user_id")) {
    if (!domain::is_valid_id(*plain)) return invalid_id;
    return IntakeBody{std::string(*plain), 1, {}, {}};
  }
  if (!required && text.find_first_not_of(" \t\r\n") == std::string_view::npos) return IntakeBody{};  // no body at all
  // The body of an intake is small: read into this buffer, not the heap.
  unsigned char buffer[1024];
  boost::json::monotonic_resource memory(buffer, sizeof buffer);
  auto body = parse_json_object(text, &memory);
  if (!body) return body.error();
  const auto& obj = body.value();
  if (auto unknown = only_fields(obj, {"user_id", "quantity", "request_id", "item_id", "item"})) return *unknown;
  IntakeBody out;
  if (required || obj.contains("user_id")) {
    auto user_id = required_string(obj, "user_id");
    if (!user_id) return user_id.error();
    if (!domain::is_valid_id(user_id.value())) return invalid_id;
    out.user_id = std::move(user_id).value();
  }
  if (obj.contains("quantity")) {
    auto quantity = required_integer(obj, "quantity");
    if (!quantity) return quantity.error();
    // The sale's own limit is the store's to check; this bounds what any sale allows.
    if (*quantity < 1 || *quantity > domain::max_units_per_buyer)
      return domain::refusal(ErrorCode::invalid_request);
    out.quantity = *quantity;
  }
  if (obj.contains("request_id")) {
    auto request_id = required_string(obj, "request_id");
    if (!request_id) return request_id.error();
    if (!domain::is_valid_id(request_id.value()))
      return domain::Error{ErrorCode::invalid_request, "request_id must be 1-64 characters of [A-Za-z0-9._:-]"};
    out.request_id = std::move(request_id).value();
  }
  if (obj.contains("item_id") && obj.contains("item"))
    return domain::Error{ErrorCode::invalid_request, "name the item as item_id or item, not both"};
  if (const std::string_view field = obj.contains("item") ? "item" : "item_id"; obj.contains(field)) {
    auto item_id = required_string(obj, field);
    if (!item_id) return item_id.error();
    if (!domain::is_valid_id(item_id.value()))
      return domain::Error{ErrorCode::invalid_request, std::string(field) + " must be 1-64 characters of [A-Za-z0-9._:-]"};
    out.item_id = std::move(item_id).value();
  }
  return out;
}

Response unauthorized_buyer(BuyerAuthMode mode, std::string message) {
  auto response = error_response(ErrorCode::unauthorized_buyer, std::move(message));
  if (mode == BuyerAuthMode::jwt) response.headers.emplace_back("WWW-Authenticate", R"(Bearer error="invalid_token")");
  return response;
}

}  // namespace

// Every outcome's counter made once, so that counting on the hot path is one atomic add.
struct IntakeMetrics::Outcomes {
  std::map<std::string, metrics::Counter*, std::less<>> counters;
};

IntakeMetrics::IntakeMetrics(metrics::Registry& registry) {
  auto outcomes = std::make_shared<Outcomes>();
  const auto add = [&](std::string name) {
    outcomes->counters[name] =
        &registry.counter("flashgate_intake_total", "Intake requests by outcome", "outcome=\"" + name + "\"");
  };
  for (std::string_view outcome : {"accepted", "repeat"}) add(std::string(outcome));
  for (int code = 0; code <= static_cast<int>(ErrorCode::internal); ++code)
    add(std::string(domain::error_name(static_cast<ErrorCode>(code))));
  outcomes_ = std::move(outcomes);
  store_seconds_ = &registry.histogram("flashgate_store_seconds", "Time of a Store call, by operation", "op=\"intake\"",
                                       {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2});
}

void IntakeMetrics::count(std::string_view outcome) const {
  if (auto it = outcomes_->counters.find(outcome); it != outcomes_->counters.end()) it->second->inc();
}

void Intake::refuse(const ExchangePtr& ex, ErrorCode code, std::string message) const {
  metrics.count(domain::error_name(code));
  ex->respond(error_response(code, std::move(message)));
}

void Intake::handle(const ExchangePtr& ex, bool may_refresh) const {
  const std::string sale_id(ex->request().param("sale_id"));
  if (!domain::is_valid_id(sale_id))
    return refuse(ex, ErrorCode::invalid_request, "sale_id must be 1-64 characters of [A-Za-z0-9._:-]");
  // Per address first: a flood of made-up tokens costs a verification each.
  if (may_refresh && !address_rate.pass_or_reply(ex)) return metrics.count("too_many_requests");
  auto verdict = buyers.identify(ex->request());
  using Kind = BuyerIdentity::Verdict::Kind;
  if (verdict.kind == Kind::unknown_key) {
    if (may_refresh) return buyers.keys()->refresh_for_unknown_kid([this, ex](bool) { handle(ex, false); });
    verdict = {Kind::refused, {}, "the bearer token was refused: it names a key the shop's login does not have"};
  }
  if (verdict.kind == Kind::refused) {
    metrics.count(domain::error_name(ErrorCode::unauthorized_buyer));
    return ex->respond(unauthorized_buyer(buyers.mode(), std::move(verdict.why)));
  }
  const bool known = verdict.kind == Kind::buyer;
  auto body = parse_intake_body(ex->request().body, !known);
  if (!body) return refuse(ex, body.error().code, body.error().message);
  if (known && body.value().user_id && *body.value().user_id != verdict.user_id)
    return refuse(ex, ErrorCode::user_mismatch, "user_id is not the buyer the credentials name");
  store::IntakeRequest request{known ? std::move(verdict.user_id) : std::move(*body.value().user_id),
                               body.value().quantity, std::move(body.value().request_id),
                               std::move(body.value().item_id)};
  if (known && !within_rate_or_reply(buyer_limiter, ex, request.user_id)) return metrics.count("too_many_requests");
  const auto started = std::chrono::steady_clock::now();
  store.intake(sale_id, request, [this, ex, started](auto outcome) {
    metrics.store_took(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!outcome) {
      auto error = outcome.error();
      // Read from the request only here: the accepted path copies no sale id.
      if (error.code == ErrorCode::sale_not_found && archived.archive &&
          archived.archive->is_archived(std::string(ex->request().param("sale_id"))))
        error = {ErrorCode::sale_archived, "the sale is over and archived"};
      metrics.count(domain::error_name(error.code));
      return ex->respond(error_response(error));
    }
    const auto& view = outcome.value().view;
    // The order is the user's own (found by, or made for, this user): its user id is theirs.
    // An entrant's ticket counts from the draw (see docs/architecture.md "The draw"):
    // however long the prequeue, it lives as long after the draw as a first-come one.
    const auto now = domain::now_ms();
    const std::string ticket = tickets.seal(view.order.order_id, view.order.sale_id, view.order.user_id,
                                            view.draw_at ? std::max(now, *view.draw_at) : now);
    metrics.count(outcome.value().created ? "accepted" : "repeat");
    ex->respond(json_response(outcome.value().created ? 202 : 200, render_intake(view, ticket)));
  });
}

}  // namespace flashgate::gateway
