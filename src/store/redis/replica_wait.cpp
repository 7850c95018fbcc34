#include "store/redis/replica_wait.hpp"

#include <algorithm>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/cluster_connection.hpp"
#include "store/redis/cluster/key_slot.hpp"

namespace flashgate::store::redis {

void ReplicaWaits::after_write(std::string_view key, Done done) {
  const auto slot = cluster::key_slot(key);
  {
    std::lock_guard lock(mutex_);
    auto& lane = lanes_[slot];
    if (lane.in_flight) {
      lane.next.push_back(std::move(done));
      return;
    }
    lane.in_flight = true;
  }
  std::vector<Done> waiting;
  waiting.push_back(std::move(done));
  send(slot, std::string(key), std::move(waiting));
}

void ReplicaWaits::send(std::uint16_t slot, std::string key, std::vector<Done> waiting) {
  link_.wait_replicas(key, replicas_, timeout_,
                      [this, slot, key, waiting = std::move(waiting)](Reply reply) mutable {
                        const bool copied = reply.type == Reply::Type::integer && reply.integer >= replicas_;
                        std::vector<Done> next;
                        {
                          std::lock_guard lock(mutex_);
                          auto& lane = lanes_[slot];
                          next.swap(lane.next);
                          lane.in_flight = !next.empty();
                        }
                        // Sent before these are told: their replies all came before it.
                        if (!next.empty()) send(slot, std::move(key), std::move(next));
                        for (auto& done : waiting) done(copied);
                      });
}

bool ReplicaWaits::after_write_sync(std::string_view key) {
  auto answer = std::make_shared<std::promise<bool>>();
  auto copied = answer->get_future();
  after_write(key, [answer](bool ok) { answer->set_value(ok); });
  // WAIT answers by its timeout; the link's own patience bounds a lost one.
  return copied.get();
}

std::optional<int> fewest_replicas(BlockingRedis& redis) {
  const auto info = redis.command({"INFO", "replication"});
  if (!info.ok()) return std::nullopt;
  constexpr std::string_view field = "connected_slaves:";
  const auto at = info.str.find(field);
  if (at == std::string::npos) return std::nullopt;
  return std::atoi(info.str.c_str() + at + field.size());
}

std::optional<int> fewest_replicas(cluster::ClusterConnection& cluster) {
  if (!cluster.refresh()) return std::nullopt;
  const auto& shards = cluster.slot_map().shards();
  if (shards.empty()) return std::nullopt;
  std::size_t fewest = shards.front().replicas.size();
  for (const auto& shard : shards) fewest = std::min(fewest, shard.replicas.size());
  return static_cast<int>(fewest);
}

}  // namespace flashgate::store::redis
