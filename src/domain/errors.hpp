#pragma once
// Business outcomes are values: every expected failure is an ErrorCode that
// maps one-to-one to an HTTP status and the contract's error string.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace flashgate::domain {

enum class ErrorCode {
  invalid_request,
  unauthorized,
  sale_exists,
  sale_not_found,
  sale_not_open,
  sale_ended,
  sold_out,
  too_many_requests,
  invalid_ticket,
  ticket_expired,
  bad_signature,
  order_not_found,
  order_not_payable,
  not_found,
  method_not_allowed,
  payload_too_large,
  shutting_down,
  unavailable,
  unauthorized_buyer,  // intake without a valid proof of who the buyer is
  user_mismatch,       // the body names another buyer than the verified one
  sale_active,         // archive asked of a sale that is not settled
  sale_archived,       // the sale is over and archived: only the database knows it
  not_enough_stock,    // fewer units left than the intake asked for (but at least one)
  buyer_limit_reached, // the buyer would hold more than the sale's max_per_buyer
  item_not_found,      // an intake named an item the sale has not
  internal,
};

int http_status(ErrorCode code);
std::string_view error_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // safe to show to a client: never paths, SQL or keys
  // not_enough_stock: the units left, so a client can ask for what there is.
  std::optional<std::int64_t> remaining = std::nullopt;
};

// A refusal of the order rules as every store answers it: the code and the
// one text a client reads, whichever store refused (a code with no text of
// its own reads as its name).
Error refusal(ErrorCode code);
// The refusal whose error_name() is `name`: the Redis scripts answer a
// refusal by that name. Nothing for any other text.
std::optional<Error> refusal_named(std::string_view name);
// get_order's order_not_found: the client came with a ticket, not an order id.
Error no_order_for_ticket();
// An intake of a sale of several items that named none (400 invalid_request).
Error item_required();
// not_enough_stock with the units left.
Error not_enough_stock(std::int64_t remaining);

// A value or an Error; small on purpose (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit by design
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  explicit operator bool() const { return ok_; }
  const T& value() const& { return value_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }
  const Error& error() const { return error_; }

 private:
  T value_{};
  Error error_{ErrorCode::internal, {}};
  bool ok_;
};

}  // namespace flashgate::domain
