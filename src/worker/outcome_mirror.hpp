#pragma once
// Carries final statuses (PAID, CANCELLED, FAILED) from an OutcomeLog to an
// order database that is not the store's own journal (PostgreSQL), in the
// background. An outcome is marked recorded in the log only once the
// database has it: one the database refuses is tried again with backoff, and
// one this process never wrote stays in the log for another worker.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "database/order_database.hpp"
#include "store/outcome_log.hpp"
#include "store/views.hpp"

namespace flashgate::worker {

class OutcomeMirror {
 public:
  OutcomeMirror(store::OutcomeLog& log, database::OrderDatabase& database);
  ~OutcomeMirror();
  OutcomeMirror(const OutcomeMirror&) = delete;
  OutcomeMirror& operator=(const OutcomeMirror&) = delete;

  // Writes what the log hands out for a bounded time, then stops.
  void stop();

 private:
  static constexpr std::chrono::milliseconds drain_time{2'000};
  void run();
  // What one take() handed out, as one batch (one transaction in
  // PostgreSQL); false if stopped before the database took it.
  bool write(const std::vector<store::OutcomeLog::Entry>& entries, bool retry);

  store::OutcomeLog& log_;
  database::OrderDatabase& database_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable stopped_;  // cuts a backoff short
  std::thread thread_;
};

// An OutcomeLog in this process's memory, fed by the Store's change
// listener: for a store without a durable log of its own (the memory store
// with PostgreSQL as the system of record). What it holds dies with the
// process; the Redis store's log does not.
class ListenedOutcomes final : public store::OutcomeLog {
 public:
  // A Store change listener: final statuses are kept, the rest ignored.
  void changed(const store::OrderView& view);
  std::vector<Entry> take(std::chrono::milliseconds wait) override;
  void recorded(const Entry& entry) override;

 private:
  static constexpr std::size_t max_queued = 1'000'000;
  static constexpr std::size_t max_taken = 100;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Entry> pending_;  // the first `handed_` are taken and not yet recorded
  std::size_t handed_ = 0;
  std::uint64_t next_id_ = 0;
};

}  // namespace flashgate::worker
