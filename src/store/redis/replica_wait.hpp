#pragma once
// Durability across a failover: a write a client is told of (an intake's
// 202, a payment, a window's finish) is answered only once it reached this
// many replicas (WAIT), so the replica promoted when its master dies has it.
// WAIT covers every earlier write of the connection it is sent on, so it goes
// over the connection the script went over (RedisLink::wait_replicas).
#include <chrono>
#include <optional>
#include <string_view>

#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis {

class BlockingRedis;
namespace cluster {
class ClusterConnection;
}

struct ReplicaWait {
  int replicas = 0;  // 0: nothing is waited for
  std::chrono::milliseconds timeout{1000};

  bool wanted() const { return replicas > 0; }
  // WAIT's answer: the replicas that acknowledged within the timeout.
  bool enough(const Reply& reply) const { return reply.type == Reply::Type::integer && reply.integer >= replicas; }
  // From a thread that may block (a window's, a periodic task's): WAIT, then enough().
  bool wait_sync(RedisLink& link, std::string_view key) const;
};

// The fewest replicas a master has (INFO replication of a single Redis,
// CLUSTER SLOTS of a cluster); nullopt if it could not be asked.
std::optional<int> fewest_replicas(BlockingRedis& redis);
std::optional<int> fewest_replicas(cluster::ClusterConnection& cluster);

}  // namespace flashgate::store::redis
