#pragma once
// The shop's order service, as the windows see it: one call creates one order.
// The answer says what the window does next; it never throws.
#include <cstdint>
#include <string>

#include "domain/time.hpp"

namespace flashgate::sink {

struct OrderRequest {
  std::string order_id;  // also the Idempotency-Key: a repeated call creates nothing new
  std::string sale_id;
  std::string user_id;
  std::string item;
  domain::TimeMs accepted_at = 0;
  std::int64_t quantity = 1;  // units of the item the order is for
  std::string item_id = {};   // the item of a sale of several items; empty (and not sent) otherwise
};

struct SinkAnswer {
  enum class Kind { created, refused, unavailable };
  Kind kind = Kind::unavailable;
  std::string external_id;  // created: the shop's own id of the order, if it said a valid one
  std::string reason;       // refused: the shop's words; unavailable: why, for the log
  bool external_id_refused = false;  // created: it said one that domain::is_valid_external_id refuses
};

class OrderSink {
 public:
  virtual ~OrderSink() = default;
  // Blocking, bounded by the sink's timeout; called from window threads.
  virtual SinkAnswer create_order(const OrderRequest& request) = 0;
};

}  // namespace flashgate::sink
