#include "store/redis/cluster/cluster_connection.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include "store/redis/cluster/key_slot.hpp"
#include "store/redis/cluster/redirect.hpp"

namespace flashgate::store::redis::cluster {

using std::chrono::milliseconds;

namespace {

milliseconds left(std::chrono::steady_clock::time_point deadline) {
  return std::max(milliseconds{0},
                  std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now()));
}

// BlockingRedis says why a link failed; these two mean the command never left.
bool never_sent(const Reply& reply) {
  return reply.str.starts_with("CONNECTION connect failed") || reply.str.starts_with("CONNECTION not connected");
}

}  // namespace

ClusterConnection::ClusterConnection(ClusterOptions options) : options_(std::move(options)) {}

ClusterConnection::~ClusterConnection() = default;

void ClusterConnection::shutdown() {
  std::lock_guard lock(links_mutex_);
  shut_ = true;
  for (auto& [node, redis] : links_) redis->shutdown();
}

BlockingRedis& ClusterConnection::link(const Endpoint& node) {
  std::lock_guard lock(links_mutex_);
  auto& redis = links_[node];
  if (!redis) {
    redis = std::make_unique<BlockingRedis>(node.host, node.port, options_.connect_timeout);
    if (shut_) redis->shutdown();
  }
  return *redis;
}

void ClusterConnection::keep_links_of_masters() {
  std::lock_guard lock(links_mutex_);
  std::erase_if(links_, [this](const auto& entry) {
    const auto& shards = map_.shards();
    return std::none_of(shards.begin(), shards.end(), [&](const Shard& s) { return s.master == entry.first; });
  });
}

bool ClusterConnection::refresh(milliseconds timeout) {
  std::string why;
  return refresh_until(Clock::now() + timeout, why);
}

bool ClusterConnection::refresh_until(Clock::time_point deadline, std::string& why) {
  // Masters it is linked to first: a dead one would hold the reading up for
  // its connect timeout or its reconnection backoff.
  std::vector<Endpoint> candidates;
  for (const auto& shard : map_.shards()) candidates.push_back(shard.master);
  for (const auto& seed : options_.seeds)
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) candidates.push_back(seed);
  std::stable_partition(candidates.begin(), candidates.end(), [this](const Endpoint& node) {
    std::lock_guard lock(links_mutex_);
    const auto it = links_.find(node);
    return it != links_.end() && it->second->connected();
  });

  why = candidates.empty() ? "no seed nodes" : "";
  for (const auto& node : candidates) {
    if (left(deadline) <= milliseconds{0}) {
      why += (why.empty() ? "" : "; ") + std::string("timeout");
      break;
    }
    const Reply reply = link(node).command({"CLUSTER", "SLOTS"}, left(deadline));
    auto parsed = reply.ok() ? parse_cluster_slots(reply, node.host, maps_read_ + 1)
                             : ParsedSlotMap{std::nullopt, describe(reply)};
    if (parsed.map && parsed.map->empty()) parsed = {std::nullopt, "no slot is served"};
    if (!parsed.map) {
      why += (why.empty() ? "" : "; ") + node.to_string() + ": " + parsed.error;
      continue;
    }
    ++maps_read_;
    map_ = std::move(*parsed.map);
    keep_links_of_masters();
    return true;
  }
  return false;
}

Reply ClusterConnection::command(const std::vector<std::string>& args, milliseconds timeout) {
  if (args.size() < 2) return Reply::error("ERR no key to route the command by");
  return command_for_slot(key_slot(args[1]), args, timeout);
}

Reply ClusterConnection::command_for_key(std::string_view key, const std::vector<std::string>& args,
                                         milliseconds timeout) {
  return command_for_slot(key_slot(key), args, timeout);
}

Reply ClusterConnection::command_for_slot(std::uint16_t slot, const std::vector<std::string>& args,
                                          milliseconds timeout) {
  if (args.empty()) return Reply::error("ERR empty command");
  if (slot >= slot_count) return Reply::error("ERR slot out of range");
  const auto deadline = Clock::now() + timeout;
  std::string why;
  if (map_.master_of(slot) == nullptr) refresh_until(deadline, why);
  // Nothing learnt yet is the link's failure, not the command's: the caller may retry.
  if (map_.empty()) return Reply::connection_error("no node of the cluster answered CLUSTER SLOTS (" + why + ")");

  std::optional<Endpoint> asking;  // the node an ASK named, for the next send only
  const auto first_send = Clock::now();
  milliseconds try_again_pause{0};
  for (int resends = 0;; ++resends) {
    const Endpoint* master = map_.master_of(slot);
    if (!asking && master == nullptr)
      return Reply::error("CLUSTERDOWN no known master serves slot " + std::to_string(slot));
    if (left(deadline) <= milliseconds{0}) return Reply::connection_error("timeout");
    const bool ask = asking.has_value();
    const Endpoint target = ask ? *asking : *master;
    asking.reset();
    BlockingRedis& redis = link(target);

    Reply reply;
    if (ask) {
      reply = redis.command({"ASKING"}, left(deadline));
      if (reply.ok()) reply = redis.command(args, left(deadline));
    } else {
      reply = redis.command(args, left(deadline));
    }

    if (reply.connection_failed()) {
      if (reply.str == "CONNECTION shut down") return reply;
      refresh_until(deadline, why);
      if (never_sent(reply) && resends < options_.max_redirects && left(deadline) > milliseconds{0}) continue;
      return reply;
    }
    if (reply.type != Reply::Type::error) return reply;
    if (is_try_again(reply.str) && Clock::now() - first_send < options_.try_again_for) {
      try_again_pause = next_try_again_pause(try_again_pause);
      if (left(deadline) <= try_again_pause) return reply;
      std::this_thread::sleep_for(try_again_pause);
      resends = -1;  // the redirects of the next send are counted afresh
      continue;
    }
    const auto redirect = parse_redirect(reply.str, target.host);
    if (!redirect) return reply;  // TRYAGAIN, CLUSTERDOWN, a command's own error: the caller's
    if (resends >= options_.max_redirects)
      return Reply::error("ERR too many cluster redirects for slot " + std::to_string(slot) + ", last: " + reply.str);
    if (redirect->kind == Redirect::Kind::ask) {
      asking = redirect->target;
      continue;
    }
    refresh_until(deadline, why);
    // The node asked may not have heard of the move yet; the MOVED is newer news.
    const Endpoint* now_serving = map_.master_of(redirect->slot);
    if (now_serving == nullptr || *now_serving != redirect->target)
      map_.move_slot(redirect->slot, redirect->target, ++maps_read_);
  }
}

Reply ClusterConnection::eval(const Script& script, const std::vector<std::string>& keys,
                              const std::vector<std::string>& args, milliseconds timeout) {
  const CommonSlot where = common_slot(keys);
  if (where.kind != CommonSlot::Kind::same) return Reply::error(script_slot_refusal(where, keys));
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> call = evalsha_call(script, keys, args);
  Reply reply = command_for_slot(where.slot, call, timeout);
  if (!is_noscript(reply)) return reply;
  as_eval(call, script);
  return command_for_slot(where.slot, call, left(deadline));
}

std::uint16_t ClusterConnection::slot_of(std::string_view key) const { return key_slot(key); }

}  // namespace flashgate::store::redis::cluster
