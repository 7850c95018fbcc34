// POST /api/payments/notify: the payment provider's signed notification.
#include <algorithm>

#include "domain/ids.hpp"
#include "domain/secrets.hpp"
#include "gateway/handlers.hpp"
#include "gateway/json_body.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

struct Notification {
  std::string order_id;
  std::string payment_id;
};

bool is_amount(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64() >= 0;
  if (v.is_uint64()) return true;
  if (v.is_double()) return v.get_double() >= 0;
  if (!v.is_string()) return false;
  // "12", "12.50": digits, at most one point with digits after it.
  const std::string_view s = v.get_string();
  const auto point = s.find('.');
  const auto digits = [](std::string_view part) {
    return !part.empty() && part.size() <= 20 &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return point == std::string_view::npos ? digits(s) : digits(s.substr(0, point)) && digits(s.substr(point + 1));
}

domain::Result<Notification> parse_notification(std::string_view text) {
  auto body = parse_json_object(text);
  if (!body) return body.error();
  const auto& obj = body.value();
  if (auto unknown = only_fields(obj, {"order_id", "payment_id", "amount"})) return *unknown;
  auto order_id = required_string(obj, "order_id");
  if (!order_id) return order_id.error();
  auto payment_id = required_string(obj, "payment_id");
  if (!payment_id) return payment_id.error();
  if (!domain::is_valid_id(order_id.value()))
    return domain::Error{ErrorCode::invalid_request, "order_id must be 1-64 characters of [A-Za-z0-9._:-]"};
  if (!domain::is_valid_id(payment_id.value()))
    return domain::Error{ErrorCode::invalid_request, "payment_id must be 1-64 characters of [A-Za-z0-9._:-]"};
  if (const auto* amount = obj.if_contains("amount"); amount && !is_amount(*amount))
    return domain::Error{ErrorCode::invalid_request, "amount must be a non-negative number or decimal string"};
  return Notification{std::move(order_id).value(), std::move(payment_id).value()};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

void PaymentNotify::operator()(const ExchangePtr& ex) const {
  const auto& request = ex->request();
  // The signature is checked over the raw bytes before anything in them is believed.
  const auto expected = domain::hmac_sha256_hex(secret, request.body);
  if (!domain::constant_time_equal(lower(request.header("x-signature")), expected))
    return ex->respond(error_response(ErrorCode::bad_signature, "the X-Signature header does not match the body"));
  auto notification = parse_notification(request.body);
  if (!notification) return ex->respond(error_response(notification.error()));
  store.pay(notification.value().order_id, notification.value().payment_id,
            [archived = archived, ex, order_id = notification.value().order_id](domain::Result<store::OrderView> paid) {
              if (!paid) return archived.payment_error(ex, paid.error(), order_id);
              ex->respond(json_response(200, R"({"ok":true})"));
            });
}

}  // namespace flashgate::gateway
