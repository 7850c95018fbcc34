#include "domain/errors.hpp"

namespace flashgate::domain {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_request: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::sale_exists: return 409;
    case ErrorCode::sale_not_found: return 404;
    case ErrorCode::sale_not_open: return 403;
    case ErrorCode::sale_ended: return 410;
    case ErrorCode::sold_out: return 409;
    case ErrorCode::too_many_requests: return 429;
    case ErrorCode::invalid_ticket: return 401;
    case ErrorCode::ticket_expired: return 410;
    case ErrorCode::bad_signature: return 401;
    case ErrorCode::order_not_found: return 404;
    case ErrorCode::order_not_payable: return 409;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::shutting_down: return 503;
    case ErrorCode::unavailable: return 503;
    case ErrorCode::unauthorized_buyer: return 401;
    case ErrorCode::user_mismatch: return 403;
    case ErrorCode::sale_active: return 409;
    case ErrorCode::sale_archived: return 410;
    case ErrorCode::not_enough_stock: return 409;
    case ErrorCode::buyer_limit_reached: return 409;
    case ErrorCode::item_not_found: return 404;
    case ErrorCode::internal: return 500;
  }
  return 500;
}

std::string_view error_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_request: return "invalid_request";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::sale_exists: return "sale_exists";
    case ErrorCode::sale_not_found: return "sale_not_found";
    case ErrorCode::sale_not_open: return "sale_not_open";
    case ErrorCode::sale_ended: return "sale_ended";
    case ErrorCode::sold_out: return "sold_out";
    case ErrorCode::too_many_requests: return "too_many_requests";
    case ErrorCode::invalid_ticket: return "invalid_ticket";
    case ErrorCode::ticket_expired: return "ticket_expired";
    case ErrorCode::bad_signature: return "bad_signature";
    case ErrorCode::order_not_found: return "order_not_found";
    case ErrorCode::order_not_payable: return "order_not_payable";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::shutting_down: return "shutting_down";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::unauthorized_buyer: return "unauthorized_buyer";
    case ErrorCode::user_mismatch: return "user_mismatch";
    case ErrorCode::sale_active: return "sale_active";
    case ErrorCode::sale_archived: return "sale_archived";
    case ErrorCode::not_enough_stock: return "not_enough_stock";
    case ErrorCode::buyer_limit_reached: return "buyer_limit_reached";
    case ErrorCode::item_not_found: return "item_not_found";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

namespace {

struct RefusalText {
  ErrorCode code;
  std::string_view text;
};

// The most frequent first: a flash sale refuses mostly as sold out.
constexpr RefusalText refusal_texts[] = {
    {ErrorCode::sold_out, "sold out"},
    {ErrorCode::sale_not_open, "the sale has not started"},
    {ErrorCode::sale_ended, "the sale has ended"},
    {ErrorCode::sale_not_found, "no sale with this id"},
    {ErrorCode::sale_exists, "a sale with this id exists"},
    {ErrorCode::order_not_found, "no order with this id"},
    {ErrorCode::order_not_payable, "the order is not awaiting payment"},
    {ErrorCode::shutting_down, "the service is shutting down; try again shortly"},
    {ErrorCode::not_enough_stock, "fewer units are left than asked for"},
    {ErrorCode::buyer_limit_reached, "the buyer would hold more units of this sale than max_per_buyer allows"},
    {ErrorCode::item_not_found, "the sale has no item with this id"},
    // The one invalid request a store finds (it alone knows the sale's limit).
    {ErrorCode::invalid_request, "quantity must be an integer from 1 to the sale's max_per_buyer"},
};

}  // namespace

Error refusal(ErrorCode code) {
  for (const auto& refused : refusal_texts)
    if (refused.code == code) return Error{code, std::string(refused.text)};
  return Error{code, std::string(error_name(code))};
}

std::optional<Error> refusal_named(std::string_view name) {
  for (const auto& refused : refusal_texts)
    if (error_name(refused.code) == name) return refusal(refused.code);
  return std::nullopt;
}

Error not_enough_stock(std::int64_t remaining) {
  Error error = refusal(ErrorCode::not_enough_stock);
  error.remaining = remaining;
  return error;
}

Error item_required() {
  return Error{ErrorCode::invalid_request, "this sale has several items: name one with \"item_id\""};
}

Error no_order_for_ticket() { return Error{ErrorCode::order_not_found, "no order for this ticket"}; }

}  // namespace flashgate::domain
