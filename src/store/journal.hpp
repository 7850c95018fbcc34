#pragma once
// What the in-memory store needs from durable storage: an append-only record
// of sales and order states, group-committed, and the state to rebuild from.
#include <functional>
#include <mutex>
#include <vector>

#include "domain/draw.hpp"
#include "domain/order.hpp"
#include "domain/sale.hpp"

namespace flashgate::store {

// A draw sale's draw as the journal keeps it: its seed first (the entrant
// set is frozen then), its result (every entrant's new status, and who the
// entrants were, for an audit) later. A restart that finds a seed and no
// result draws again with that seed: the same result.
struct DrawRecord {
  std::string sale_id;
  domain::DrawSeed seed{};
  domain::TimeMs seeded_at = 0;
  std::uint64_t entrants = 0;
  bool applied = false;  // the result is in the journal
};

struct DrawResultRecord {
  std::string sale_id;
  domain::TimeMs drawn_at = 0;
  std::uint32_t admitted = 0;
  std::int64_t units_admitted = 0;
  // Every entrant, now QUEUED (seq = position) or NOT_DRAWN, with its entry time.
  std::vector<domain::Order> entrants;
};

struct JournalState {
  std::vector<domain::Sale> sales;
  std::vector<domain::Order> orders;  // latest version of each, in intake order
  std::vector<std::pair<std::string, std::int64_t>> remaining_db;
  std::vector<DrawRecord> draws;  // of live sales
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
  // A draw's seed, before any of its result: durable once done(true).
  // A journal that keeps no draws refuses them (done(false)).
  virtual void record_draw_seed(const DrawRecord&, Done done) { done(false); }
  // A draw's result in one transaction: every entrant's new version, who
  // they were, and the draw marked applied.
  virtual void record_draw_result(DrawResultRecord, Done done) { done(false); }
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
