#pragma once
// What the in-memory store needs from durable storage: an append-only record
// of sales and order states, group-committed, and the state to rebuild from.
#include <functional>
#include <vector>

#include "domain/order.hpp"
#include "domain/sale.hpp"

namespace flashgate::store {

struct JournalState {
  std::vector<domain::Sale> sales;
  std::vector<domain::Order> orders;  // latest version of each, in intake order
  std::vector<std::pair<std::string, std::int64_t>> remaining_db;
};

class Journal {
 public:
  using Done = std::function<void(bool durable)>;
  virtual ~Journal() = default;
  virtual void record_sale(const domain::Sale& sale, Done done) = 0;
  // Insert or move an order to a newer version.
  virtual void record_order(const domain::Order& order, Done done) = 0;
  // Completes once everything recorded before it is durable (or failed).
  virtual void barrier(Done done) = 0;
  virtual JournalState load() = 0;
};

}  // namespace flashgate::store
