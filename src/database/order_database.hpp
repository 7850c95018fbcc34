#pragma once
// The system of record: where windows create real orders and where stock is
// flushed. Calls block; they are made by worker threads, never by the gateway.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "domain/order.hpp"
#include "domain/sale.hpp"

namespace flashgate::database {

class OrderDatabase {
 public:
  virtual ~OrderDatabase() = default;
  // Creates the order row once (idempotent on order_id); true once it exists
  // durably, false if the database could not be written.
  virtual bool create_order(const domain::Order& order) = 0;
  virtual bool flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) = 0;
  virtual std::uint64_t count_orders() = 0;
  // The sale's row, once (idempotent on sale_id).
  virtual bool record_sale(const domain::Sale& sale) = 0;
  // A final status (PAID with its payment id, CANCELLED, FAILED) on the order
  // row; idempotent, and a row already final is left as it is.
  virtual bool record_outcome(const domain::Order& order) = 0;
};

}  // namespace flashgate::database
