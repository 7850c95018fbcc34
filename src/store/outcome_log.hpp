#pragma once
// Final outcomes (PAID, CANCELLED, FAILED) on their way to a system of record
// that is not the store's own journal (PostgreSQL behind Redis). An outcome
// stays in the log until recorded() says the system of record has it, so a
// worker that dies, or no worker running at all, delays an outcome but
// never loses it. An entry may be handed out more than once (a worker that
// took it stopped answering); writing an outcome is idempotent.
#include <chrono>
#include <string>
#include <vector>

#include "domain/order.hpp"

namespace flashgate::store {

class OutcomeLog {
 public:
  struct Entry {
    std::string stream;  // where the entry lives, as the log names it
    std::string id;      // the entry within it
    domain::Order order;
  };

  virtual ~OutcomeLog() = default;
  // Outcomes the system of record may lack: waits up to `wait` for one and
  // answers what there is (possibly nothing). Not thread-safe: one taker.
  virtual std::vector<Entry> take(std::chrono::milliseconds wait) = 0;
  // The system of record has the entry's outcome: it is not handed out again.
  virtual void recorded(const Entry& entry) = 0;
};

}  // namespace flashgate::store
