#include "store/redis/replica_wait.hpp"

#include <algorithm>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/cluster_connection.hpp"

namespace flashgate::store::redis {

bool ReplicaWait::wait_sync(RedisLink& link, std::string_view key) const {
  auto answer = std::make_shared<std::promise<Reply>>();
  auto reply = answer->get_future();
  link.wait_replicas(key, replicas, timeout, [answer](Reply r) { answer->set_value(std::move(r)); });
  // WAIT answers by its timeout; the link's own patience bounds a lost one.
  return enough(reply.get());
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
