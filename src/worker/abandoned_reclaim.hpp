#pragma once
// A shared queue's reclaim (fg-reclaim): renews the entries this worker's
// windows hold and hands back to the queue the orders of windows that died
// (QueueReclaim::reclaim_abandoned), every QueueReclaim::reclaim_period.
#include <optional>

#include "store/queue_reclaim.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class AbandonedReclaim {
 public:
  explicit AbandonedReclaim(store::QueueReclaim& store) : store_(store) {}
  AbandonedReclaim(const AbandonedReclaim&) = delete;
  AbandonedReclaim& operator=(const AbandonedReclaim&) = delete;

  void start();
  void stop();

 private:
  store::QueueReclaim& store_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
