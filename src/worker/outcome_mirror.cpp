#include "worker/outcome_mirror.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "platform/thread_name.hpp"

namespace flashgate::worker {

OutcomeMirror::OutcomeMirror(store::OutcomeLog& log, database::OrderDatabase& database)
    : log_(log), database_(database) {
  thread_ = std::thread([this] {
    platform::name_this_thread("fg-pg-mirror");
    run();
  });
}

OutcomeMirror::~OutcomeMirror() { stop(); }

void OutcomeMirror::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutcomeMirror::run() {
  while (!stopping_)
    if (!write(log_.take(std::chrono::milliseconds(500)), true)) return;
  // What was handed out before the stop is written once more, for a bounded time.
  const auto deadline = std::chrono::steady_clock::now() + drain_time;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto entries = log_.take(std::chrono::milliseconds(1));
    if (entries.empty() || !write(entries, false)) return;
  }
}

bool OutcomeMirror::write(const std::vector<store::OutcomeLog::Entry>& entries, bool retry) {
  if (entries.empty()) return true;
  std::vector<domain::Order> orders;
  orders.reserve(entries.size());
  for (const auto& entry : entries) orders.push_back(entry.order);
  auto backoff = std::chrono::milliseconds(10);
  while (!database_.record_outcomes(orders)) {
    std::unique_lock lock(mutex_);
    if (!retry || stopped_.wait_for(lock, backoff, [this] { return stopping_.load(); })) {
      spdlog::warn("outcome mirror: stopping with {} outcomes (order {} first) not written; they stay in the outcome log",
                   orders.size(), orders.front().order_id);
      return false;
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  for (const auto& entry : entries) log_.recorded(entry);
  return true;
}

void ListenedOutcomes::changed(const store::OrderView& view) {
  if (!domain::is_final(view.order.status)) return;
  std::lock_guard lock(mutex_);
  if (pending_.size() >= max_queued) {
    spdlog::error("outcome mirror: {} outcomes waiting for the database; dropping order {}", pending_.size(),
                  view.order.order_id);
    return;
  }
  pending_.push_back(Entry{"", std::to_string(next_id_++), view.order});
  ready_.notify_one();
}

std::vector<store::OutcomeLog::Entry> ListenedOutcomes::take(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, wait, [this] { return pending_.size() > handed_; });
  const std::size_t end = std::min(pending_.size(), handed_ + max_taken);
  std::vector<Entry> taken(pending_.begin() + static_cast<std::ptrdiff_t>(handed_),
                           pending_.begin() + static_cast<std::ptrdiff_t>(end));
  handed_ = end;
  return taken;
}

void ListenedOutcomes::recorded(const Entry& entry) {
  std::lock_guard lock(mutex_);
  const auto handed_end = pending_.begin() + static_cast<std::ptrdiff_t>(handed_);
  const auto it = std::find_if(pending_.begin(), handed_end, [&](const Entry& e) { return e.id == entry.id; });
  if (it == handed_end) return;
  pending_.erase(it);
  --handed_;
}

}  // namespace flashgate::worker
