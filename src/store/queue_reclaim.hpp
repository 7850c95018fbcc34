#pragma once
// The upkeep of a work queue that several processes share (Redis): the
// orders a window holds are renewed, and those of windows that died are
// handed back to the line. A worker runs reclaim_abandoned every
// reclaim_period on a thread of its own (worker/abandoned_reclaim). A queue
// only one process takes from needs none: it puts what a dead window held
// back in line at the next start.
#include <chrono>
#include <cstddef>

namespace flashgate::store {

class QueueReclaim {
 public:
  virtual ~QueueReclaim() = default;
  // Returns how many orders of dead windows went back in line.
  virtual std::size_t reclaim_abandoned() = 0;
  virtual std::chrono::milliseconds reclaim_period() const = 0;
};

}  // namespace flashgate::store
