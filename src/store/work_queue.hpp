#pragma once
// The store as the windows see it: the line of QUEUED orders, taken one at a
// time in intake order and finished or given back. Called by the windows, a
// bounded pool of worker threads: every call blocks until done.
//
// What a backend must guarantee:
// - An order is claimed by one window at a time; one whose window died is
//   claimed again in the end (the memory store: after a restart; Redis: by
//   another worker's reclaim), so finish must be idempotent.
// - finish is durable when it returns true; false leaves the order PROCESSING
//   for the caller to retry.
// - Thread-safe: every window calls at once.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "domain/order.hpp"

namespace flashgate::store {

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;

  // Next QUEUED order in intake order, moved to PROCESSING; nullopt after `wait`.
  virtual std::optional<domain::Order> claim(std::chrono::milliseconds wait) = 0;
  // PROCESSING -> CONFIRMED (with the shop's external_id, empty: none) or
  // FAILED (reason), durable on return; false if the store could not keep it
  // (the caller retries).
  virtual bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
                      const std::string& external_id) = 0;
  // PROCESSING -> QUEUED: a window gives an order back unfinished.
  virtual void hand_back(const std::string& order_id) = 0;
  // How long a window took over its last order: the poll hint (poll_after_ms)
  // of the orders still in line.
  virtual void record_service_time(std::int64_t ms) = 0;
};

}  // namespace flashgate::store
