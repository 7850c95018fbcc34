#include "worker/abandoned_reclaim.hpp"

#include <spdlog/spdlog.h>

namespace flashgate::worker {

void AbandonedReclaim::start() {
  thread_.emplace("fg-reclaim", store_.reclaim_period(), [this] {
    if (auto n = store_.reclaim_abandoned()) spdlog::warn("reclaimed {} orders of dead windows", n);
  });
}

void AbandonedReclaim::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
