#pragma once
// Carries final statuses (PAID, CANCELLED, FAILED) from the Store's change
// feed to an order database that is not the store's own journal
// (PostgreSQL), in the background, retrying until the database takes them.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "database/order_database.hpp"
#include "store/store.hpp"

namespace flashgate::worker {

class OutcomeMirror {
 public:
  explicit OutcomeMirror(database::OrderDatabase& database);
  ~OutcomeMirror();
  OutcomeMirror(const OutcomeMirror&) = delete;
  OutcomeMirror& operator=(const OutcomeMirror&) = delete;

  // A Store change listener: final statuses are queued, the rest ignored.
  void changed(const store::OrderView& view);
  // Writes what is queued (for a bounded time), then stops.
  void stop();

 private:
  static constexpr std::size_t max_queued = 1'000'000;
  void run();
  database::OrderDatabase& database_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<domain::Order> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flashgate::worker
