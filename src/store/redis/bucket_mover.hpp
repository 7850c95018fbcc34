#pragma once
// The buckets of a bucketed sale (docs/architecture.md "Buckets"): their
// stock moved from one to another, their sum, and the final phase of an
// intake whose home bucket ran short.
//
// A move is three scripts on two tags: take_stock (donor: remaining ->
// transit hash, under a fresh transfer id), give_stock (receiver: remaining
// += units, the id remembered: idempotent), settle_stock (donor: the
// transit entry goes). A mover killed between them leaves the units in the
// donor's transit hash, sold by no one; recover() gives and settles every
// transfer it finds there, and may race a live mover harmlessly.
//
// With replicas (ReplicaWaits), each half of a move is on a replica before
// the next is sent: the take before the give (a failover of the donor must
// not bring back units the receiver was given), the give before the settle
// (a failover of the receiver must not lose units the donor no longer lists).
//
// Blocking calls: the workers' rebalancer calls them on its thread, the
// gateway's intake on the mover's own thread (post), never on the client's.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/redis/redis_link.hpp"
#include "store/redis/replica_wait.hpp"
#include "store/views.hpp"

namespace flashgate::store::redis {

struct BucketState {
  bool exists = false;
  std::int64_t remaining = 0;
  std::int64_t moves = 0;      // takes and gives so far
  std::int64_t transfers = 0;  // taken from it and not settled
};

class BucketMover {
 public:
  BucketMover(RedisLink& client, ReplicaWaits& replica_waits);
  ~BucketMover();
  BucketMover(const BucketMover&) = delete;
  BucketMover& operator=(const BucketMover&) = delete;
  // Runs the jobs posted so far and joins the mover's thread. Idempotent.
  void stop();
  // Runs `job` on the mover's thread, in order; once stopping, on the caller's.
  void post(std::function<void()> job);

  // Every bucket's state; nullopt if Redis did not answer for one.
  std::optional<std::vector<BucketState>> states(const std::string& sale_id, std::int64_t buckets);
  // Up to `wanted` units from donor to receiver (of a sale of `buckets`), leaving the donor `keep`; the units moved.
  std::int64_t move(const std::string& sale_id, std::int64_t buckets, std::int64_t donor, std::int64_t receiver,
                    std::int64_t wanted, std::int64_t keep);
  // Gives and settles every transfer in transit; how many it completed.
  std::size_t recover(const std::string& sale_id, std::int64_t buckets);
  // Tops up the buckets below half their fair share from those above it; units moved.
  std::int64_t rebalance(const std::string& sale_id, std::int64_t buckets);

  // The final phase of an intake of `quantity` whose home bucket said
  // sold_out or not_enough_stock: units are gathered from the other buckets.
  enum class Gathered { retry, sold_out, not_enough_stock, unreachable };
  struct GatherResult {
    Gathered what = Gathered::retry;
    std::int64_t remaining = 0;  // over every bucket (not_enough_stock)
  };
  GatherResult gather(const std::string& sale_id, std::int64_t buckets, std::int64_t home, std::int64_t quantity);

  // The sale as a whole: bucket 0's view with remaining, counts and units summed over the buckets,
  // in_transit and each bucket's detail. nullopt if bucket 0 is gone or Redis did not answer.
  std::optional<SaleView> view(const std::string& sale_id, std::int64_t buckets);

 private:
  void run();
  // WAIT for the replicas after a write of `key`'s slot; true at once without replicas.
  bool replicated(const std::string& key);

  RedisLink& client_;
  ReplicaWaits& replica_waits_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flashgate::store::redis
