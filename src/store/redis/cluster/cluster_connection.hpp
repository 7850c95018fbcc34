#pragma once
// A blocking connection to a Redis Cluster for a worker thread, the cluster's
// counterpart of BlockingRedis (and made of them: one per master). It learns
// the slot map with CLUSTER SLOTS from the seeds or the masters it knows,
// sends each command to the master of its key's slot, and follows the
// cluster's redirects:
//   MOVED: the slot has a new master; the map is read anew (and the slot
//          pointed at the new master even if the node asked has not heard
//          yet), and the command is sent again;
//   ASK:   the key has left mid-migration; ASKING then the command go to the
//          named node, once, and the map stays as it is;
//   TRYAGAIN: nothing ran (the slot is migrating); sent again after a pause
//          (redirect.hpp) for at most `try_again_for` and the call's timeout.
// A link that fails makes it read the map anew as well; the command is sent
// again only if it was never sent (the connection could not be made), since
// one lost in flight may have run. At most `max_redirects` resends per call.
//
// Not thread-safe, except for shutdown(); one instance per worker.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/endpoint.hpp"
#include "store/redis/cluster/redirect.hpp"
#include "store/redis/cluster/slot_map.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::cluster {

struct ClusterOptions {
  std::vector<Endpoint> seeds;
  std::chrono::milliseconds connect_timeout{2'000};
  int max_redirects = 5;
  std::chrono::milliseconds try_again_for = cluster::try_again_for;
};

class ClusterConnection final : public BlockingLink {
 public:
  explicit ClusterConnection(ClusterOptions options);
  ~ClusterConnection() override;
  ClusterConnection(const ClusterConnection&) = delete;
  ClusterConnection& operator=(const ClusterConnection&) = delete;

  // Routed by its first key, args[1], as for GET, SET, HSET, XADD, EXPIRE...
  Reply command(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  // For commands whose first key is elsewhere (XREADGROUP ... STREAMS key).
  Reply command_for_key(std::string_view key, const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  std::uint16_t slot_of(std::string_view key) const override;
  Reply command_for_slot(std::uint16_t slot, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // EVALSHA, then EVAL on NOSCRIPT, on the slot of the keys: a CROSSSLOT error,
  // sent nowhere, if they are not in one slot.
  Reply eval(const Script& script, const std::vector<std::string>& keys, const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads the map anew (CLUSTER SLOTS from a known master, else a seed).
  bool refresh(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  const SlotMap& slot_map() const { return map_; }

  // From any thread: wakes a command blocked here and fails every later one.
  void shutdown() override;

 private:
  using Clock = std::chrono::steady_clock;
  bool refresh_until(Clock::time_point deadline, std::string& why);
  BlockingRedis& link(const Endpoint& node);
  void keep_links_of_masters();

  const ClusterOptions options_;
  SlotMap map_;
  std::uint64_t maps_read_ = 0;
  std::mutex links_mutex_;  // guards links_ and shut_ against shutdown() from another thread
  std::map<Endpoint, std::unique_ptr<BlockingRedis>> links_;
  bool shut_ = false;  // under links_mutex_
};

}  // namespace flashgate::store::redis::cluster
