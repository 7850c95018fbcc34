#pragma once
// Which master serves each of the 16384 slots (and which replicas follow it),
// as one node described the cluster in its reply to CLUSTER SLOTS or CLUSTER
// SHARDS. Pure code: parsed from a Reply, looked up by slot in O(1).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/cluster/endpoint.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::cluster {

struct Shard {
  Endpoint master;
  std::vector<Endpoint> replicas;
};

struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive, as the cluster writes ranges
  std::size_t shard = 0;   // index into SlotMap::shards()
  auto operator<=>(const SlotRange&) const = default;
};

class SlotMap {
 public:
  // No slot served: what a connection has before it has asked the cluster.
  explicit SlotMap(std::uint64_t version = 0);

  // The shard whose master serves the slot, or nullptr if no node does.
  const Shard* shard_of(std::uint16_t slot) const;
  const Endpoint* master_of(std::uint16_t slot) const;

  const std::vector<Shard>& shards() const { return shards_; }
  // Runs of consecutive slots with the same shard, in slot order.
  std::vector<SlotRange> ranges() const;
  std::size_t slots_served() const;
  bool empty() const { return slots_served() == 0; }

  // Which reading of the cluster this is: a connection numbers each map it
  // installs, so whoever kept the number can tell the map has changed since.
  std::uint64_t version() const { return version_; }

  // What a MOVED says, before a fresh map confirms it: the slot is served by
  // `master` (a shard of its own if it is not yet a known master).
  void move_slot(std::uint16_t slot, const Endpoint& master, std::uint64_t version);

  // Assigns [first, last] to the shard with shard.master, adding it if new
  // and otherwise adding the replicas it did not list yet. For the parsers.
  void assign(std::uint16_t first, std::uint16_t last, const Shard& shard);

 private:
  static constexpr std::uint16_t unserved = 0xffff;
  std::vector<Shard> shards_;
  std::vector<std::uint16_t> owner_;  // per slot: index into shards_, or unserved
  std::uint64_t version_ = 0;
};

struct ParsedSlotMap {
  std::optional<SlotMap> map;
  std::string error;  // why not, when map is empty
};

// `asked_host` is the host the command was sent to: a node whose address the
// answering node does not know (a NULL or empty endpoint) is reached there.
// A node that only has "?" (no hostname, with hostnames preferred) is reached
// at its "ip" metadata when given; a master reachable nowhere leaves its
// slots unserved, a replica is left out.
ParsedSlotMap parse_cluster_slots(const Reply& reply, std::string_view asked_host, std::uint64_t version);
// CLUSTER SHARDS (Redis 7): per shard its slots and nodes with role and health;
// replicas not "online" are left out.
ParsedSlotMap parse_cluster_shards(const Reply& reply, std::string_view asked_host, std::uint64_t version);

}  // namespace flashgate::store::redis::cluster
