#pragma once
// The Redis queue's reclaim (fg-reclaim): renews the entries this worker's
// windows hold and hands back to the queue the orders of windows that died
// (RedisStore::reclaim_abandoned), every RedisStore::reclaim_period.
#include <optional>

#include "store/redis/redis_store.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class AbandonedReclaim {
 public:
  explicit AbandonedReclaim(store::redis::RedisStore& store) : store_(store) {}
  AbandonedReclaim(const AbandonedReclaim&) = delete;
  AbandonedReclaim& operator=(const AbandonedReclaim&) = delete;

  void start();
  void stop();

 private:
  store::redis::RedisStore& store_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
