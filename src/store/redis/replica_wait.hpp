#pragma once
// Durability across a failover: a write a client is told of (an intake's
// 202, a payment, a window's finish) is answered only once it reached this
// many replicas (WAIT), so the replica promoted when its master dies has it.
//
// WAIT covers every earlier write of the connection it is sent on, and
// blocks that connection on the server until the replicas acknowledge. One
// WAIT per write would serialise a hot sale's intakes (all on one master's
// connection) behind one replica round trip each, so the waits are shared:
// per slot (one connection: a cluster's master, or a single Redis's one), at
// most one WAIT is in flight; the writes whose replies came while it was
// out wait for the next one, sent when it answers, which covers them all.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis {

class BlockingRedis;
namespace cluster {
class ClusterConnection;
}

class ReplicaWaits {
 public:
  using Done = std::function<void(bool copied)>;

  // replicas 0: nothing is waited for.
  ReplicaWaits(RedisLink& link, int replicas, std::chrono::milliseconds timeout)
      : link_(link), replicas_(replicas), timeout_(timeout) {}

  int replicas() const { return replicas_; }
  bool wanted() const { return replicas_ > 0; }
  // After the reply of a write to `key`'s slot: `done` runs (on a link
  // thread) once a WAIT sent after now answered, with whether enough
  // replicas acknowledged within the timeout.
  void after_write(std::string_view key, Done done);
  // The same from a thread that may block (a window's).
  bool after_write_sync(std::string_view key);

 private:
  struct Lane {
    bool in_flight = false;
    std::vector<Done> next;  // replies come while a WAIT is out: for the one after it
  };
  void send(std::uint16_t slot, std::string key, std::vector<Done> waiting);

  RedisLink& link_;
  const int replicas_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;  // guards lanes_ (writes' replies on link threads, waits answered there too)
  std::unordered_map<std::uint16_t, Lane> lanes_;
};

// The fewest replicas a master has (INFO replication of a single Redis,
// CLUSTER SLOTS of a cluster); nullopt if it could not be asked.
std::optional<int> fewest_replicas(BlockingRedis& redis);
std::optional<int> fewest_replicas(cluster::ClusterConnection& cluster);

}  // namespace flashgate::store::redis
