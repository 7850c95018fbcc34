#pragma once
// What the in-memory store needs from durable storage: an append-only record
// of sales and order states, group-committed, and the state to rebuild from.
#include <functional>
#include <mutex>
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
  // Called after the done callbacks of each commit, on the thread that ran
  // them: a caller can queue what those callbacks report and finish it all
  // in one step (one lock instead of one per order of the commit).
  void on_commit_end(std::function<void()> listener) {
    std::lock_guard lock(commit_end_mutex_);
    commit_end_ = std::move(listener);
  }
  virtual void record_sale(const domain::Sale& sale, Done done) = 0;
  // Insert or move an order to a newer version. By value: the job keeps it
  // until its commit, and a caller done with its copy moves it in.
  virtual void record_order(domain::Order order, Done done) = 0;
  // Completes once everything recorded before it is durable (or failed).
  virtual void barrier(Done done) = 0;
  virtual JournalState load() = 0;

 protected:
  // Implementations call this once the done callbacks of a commit (or of a
  // refusal) have run.
  void commit_ended() {
    std::lock_guard lock(commit_end_mutex_);
    if (commit_end_) commit_end_();
  }

 private:
  std::mutex commit_end_mutex_;  // a listener is not replaced while it runs
  std::function<void()> commit_end_;
};

}  // namespace flashgate::store
