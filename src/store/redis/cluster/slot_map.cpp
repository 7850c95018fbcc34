#include "store/redis/cluster/slot_map.hpp"

#include <algorithm>
#include <charconv>

#include "store/redis/cluster/key_slot.hpp"

namespace flashgate::store::redis::cluster {

SlotMap::SlotMap(std::uint64_t version) : owner_(slot_count, unserved), version_(version) {}

const Shard* SlotMap::shard_of(std::uint16_t slot) const {
  if (slot >= slot_count || owner_[slot] == unserved) return nullptr;
  return &shards_[owner_[slot]];
}

const Endpoint* SlotMap::master_of(std::uint16_t slot) const {
  const Shard* shard = shard_of(slot);
  return shard ? &shard->master : nullptr;
}

std::vector<SlotRange> SlotMap::ranges() const {
  std::vector<SlotRange> out;
  for (std::uint16_t slot = 0; slot < slot_count; ++slot) {
    if (owner_[slot] == unserved) continue;
    if (!out.empty() && out.back().shard == owner_[slot] && out.back().last + 1 == slot) out.back().last = slot;
    else out.push_back({slot, slot, owner_[slot]});
  }
  return out;
}

std::size_t SlotMap::slots_served() const {
  return static_cast<std::size_t>(std::count_if(owner_.begin(), owner_.end(), [](auto o) { return o != unserved; }));
}

void SlotMap::assign(std::uint16_t first, std::uint16_t last, const Shard& shard) {
  auto it = std::find_if(shards_.begin(), shards_.end(), [&](const Shard& s) { return s.master == shard.master; });
  if (it == shards_.end()) {
    shards_.push_back(shard);
    it = shards_.end() - 1;
  } else {
    for (const auto& replica : shard.replicas)
      if (std::find(it->replicas.begin(), it->replicas.end(), replica) == it->replicas.end())
        it->replicas.push_back(replica);
  }
  const auto index = static_cast<std::uint16_t>(it - shards_.begin());
  for (unsigned slot = first; slot <= last && slot < slot_count; ++slot) owner_[slot] = index;
}

void SlotMap::move_slot(std::uint16_t slot, const Endpoint& master, std::uint64_t version) {
  assign(slot, slot, Shard{master, {}});
  version_ = version;
}

namespace {

const Reply* field(const Reply& flat_pairs, std::string_view name) {
  if (flat_pairs.type != Reply::Type::array) return nullptr;
  for (std::size_t i = 0; i + 1 < flat_pairs.elements.size(); i += 2)
    if (flat_pairs.elements[i].str == name) return &flat_pairs.elements[i + 1];
  return nullptr;
}

std::optional<long long> integer_of(const Reply* r) {
  if (r == nullptr) return std::nullopt;
  if (r->type == Reply::Type::integer) return r->integer;
  if (r->type != Reply::Type::string && r->type != Reply::Type::status) return std::nullopt;
  long long value = 0;
  const auto [end, error] = std::from_chars(r->str.data(), r->str.data() + r->str.size(), value);
  if (r->str.empty() || error != std::errc{} || end != r->str.data() + r->str.size()) return std::nullopt;
  return value;
}

// The host to reach a node at, from its preferred endpoint and its metadata
// (flat name/value pairs holding "ip" when the endpoint is a hostname or "?").
std::optional<std::string> reachable_host(const Reply& endpoint, const Reply* metadata, std::string_view asked_host) {
  if (endpoint.type == Reply::Type::nil || (endpoint.type == Reply::Type::string && endpoint.str.empty()))
    return std::string(asked_host);
  if (endpoint.type != Reply::Type::string) return std::nullopt;
  if (endpoint.str != "?") return endpoint.str;
  const Reply* ip = metadata ? field(*metadata, "ip") : nullptr;
  if (ip && ip->type == Reply::Type::string && !ip->str.empty() && ip->str != "?") return ip->str;
  return std::nullopt;
}

std::optional<Endpoint> slots_node(const Reply& node, std::string_view asked_host) {
  if (node.type != Reply::Type::array || node.elements.size() < 2) return std::nullopt;
  const Reply* metadata = node.elements.size() > 3 ? &node.elements[3] : nullptr;
  const auto host = reachable_host(node.elements[0], metadata, asked_host);
  const auto port = integer_of(&node.elements[1]);
  if (!host || !port || *port <= 0 || *port > 65535) return std::nullopt;
  return Endpoint{*host, static_cast<std::uint16_t>(*port)};
}

bool valid_range(std::optional<long long> first, std::optional<long long> last) {
  return first && last && *first >= 0 && *first <= *last && *last < slot_count;
}

}  // namespace

ParsedSlotMap parse_cluster_slots(const Reply& reply, std::string_view asked_host, std::uint64_t version) {
  if (reply.type != Reply::Type::array) return {std::nullopt, "CLUSTER SLOTS answered " + describe(reply)};
  SlotMap map(version);
  for (const Reply& entry : reply.elements) {
    if (entry.type != Reply::Type::array || entry.elements.size() < 3)
      return {std::nullopt, "CLUSTER SLOTS entry is not [first, last, master, replicas...]: " + describe(entry)};
    const auto first = integer_of(&entry.elements[0]);
    const auto last = integer_of(&entry.elements[1]);
    if (!valid_range(first, last)) return {std::nullopt, "CLUSTER SLOTS range out of bounds: " + describe(entry)};
    const auto master = slots_node(entry.elements[2], asked_host);
    if (!master) continue;  // a master nobody can reach: its slots stay unserved
    Shard shard{*master, {}};
    for (std::size_t i = 3; i < entry.elements.size(); ++i)
      if (const auto replica = slots_node(entry.elements[i], asked_host)) shard.replicas.push_back(*replica);
    map.assign(static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last), shard);
  }
  return {std::move(map), {}};
}

ParsedSlotMap parse_cluster_shards(const Reply& reply, std::string_view asked_host, std::uint64_t version) {
  if (reply.type != Reply::Type::array) return {std::nullopt, "CLUSTER SHARDS answered " + describe(reply)};
  SlotMap map(version);
  for (const Reply& entry : reply.elements) {
    const Reply* slots = field(entry, "slots");
    const Reply* nodes = field(entry, "nodes");
    if (!slots || !nodes || slots->type != Reply::Type::array || nodes->type != Reply::Type::array ||
        slots->elements.size() % 2 != 0)
      return {std::nullopt, "CLUSTER SHARDS entry has no slots and nodes: " + describe(entry)};
    std::optional<Endpoint> master;
    bool master_online = false;
    std::vector<Endpoint> replicas;
    for (const Reply& node : nodes->elements) {
      const Reply* endpoint = field(node, "endpoint");
      const Reply* role = field(node, "role");
      const Reply* health = field(node, "health");
      const auto port = integer_of(field(node, "port"));
      if (!endpoint || !role || !port || *port <= 0 || *port > 65535) continue;
      const auto host = reachable_host(*endpoint, &node, asked_host);
      if (!host) continue;
      const Endpoint where{*host, static_cast<std::uint16_t>(*port)};
      const bool online = health && health->str == "online";
      // A master that failed may still be listed beside the replica promoted in its place.
      if (role->str == "master" && (!master || (online && !master_online))) {
        master = where;
        master_online = online;
      } else if (role->str != "master" && online) {
        replicas.push_back(where);
      }
    }
    if (!master || slots->elements.empty()) continue;
    for (std::size_t i = 0; i < slots->elements.size(); i += 2) {
      const auto first = integer_of(&slots->elements[i]);
      const auto last = integer_of(&slots->elements[i + 1]);
      if (!valid_range(first, last)) return {std::nullopt, "CLUSTER SHARDS range out of bounds: " + describe(entry)};
      map.assign(static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last), Shard{*master, replicas});
    }
  }
  return {std::move(map), {}};
}

}  // namespace flashgate::store::redis::cluster
