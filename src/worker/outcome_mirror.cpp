#include "worker/outcome_mirror.hpp"

#include <spdlog/spdlog.h>

#include "platform/thread_name.hpp"

namespace flashgate::worker {

OutcomeMirror::OutcomeMirror(database::OrderDatabase& database) : database_(database) {
  thread_ = std::thread([this] {
    platform::name_this_thread("fg-pg-mirror");
    run();
  });
}

OutcomeMirror::~OutcomeMirror() { stop(); }

void OutcomeMirror::changed(const store::OrderView& view) {
  if (!domain::is_final(view.order.status)) return;
  std::lock_guard lock(mutex_);
  if (pending_.size() >= max_queued) {
    spdlog::error("outcome mirror: {} outcomes waiting for the database; dropping order {}", pending_.size(),
                  view.order.order_id);
    return;
  }
  pending_.push_back(view.order);
  wake_.notify_one();
}

void OutcomeMirror::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void OutcomeMirror::run() {
  auto backoff = std::chrono::milliseconds(10);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;
    const domain::Order order = pending_.front();
    lock.unlock();
    const bool written = database_.record_outcome(order);
    lock.lock();
    if (written) {
      pending_.pop_front();
      backoff = std::chrono::milliseconds(10);
    } else if (stopping_) {
      spdlog::warn("outcome mirror: {} outcomes not written at shutdown", pending_.size());
      return;
    } else {
      wake_.wait_for(lock, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }
}

}  // namespace flashgate::worker
