#pragma once
// The asynchronous client for a Redis Cluster, the cluster's counterpart of
// RedisClient with the same calling surface, for the gateways. Made of
// RedisClients: one per master, each with ONE hiredis async connection, so the
// commands of a slot are pipelined on it and answered first in, first out,
// and an ASKING is always followed on its connection by the command it is for.
//
// The slot map is read with CLUSTER SLOTS (masters it knows first, then the
// seeds) on a thread of the client's own ("fg-redis-slots"), by a blocking
// connection: never on a thread that delivers replies. A command goes to the
// master of its first key's slot (or of the key or slot named), a script to
// the slot of its keys; keys in different slots are refused at once with a
// CROSSSLOT error, sent nowhere. The cluster's answers:
//   MOVED: the slot points at the named node at once, the map is read anew
//          in the background, and the command is sent again there;
//   ASK:   ASKING then the command to the named node, once; the map is kept;
//   a CONNECTION error: the map is read anew; the command is sent again (once
//          the new map is in) only if it never left, since one lost in flight
//          may have run;
//   TRYAGAIN (a multi-key command mid-migration, nothing ran): sent again
//          after a pause (redirect.hpp), for at most `try_again_for`, then
//          given to the caller;
//   CLUSTERDOWN (slots not served, a failover under way): given to the
//          caller, whose retry policy decides, as for any other error.
// At most `max_redirects` resends per call, then the last error is answered.
// Commands held while the map is read again (a dead master, no map yet)
// keep no order with the ones sent meanwhile; otherwise a slot's commands are
// answered in the order they were given from one thread.
//
// Callbacks run exactly once, on the thread of the master's RedisClient that
// answered or on the client's map thread. Thread-safety as RedisClient's:
// everything from any thread, except stop() and the destructor, not from a
// callback.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/cluster/endpoint.hpp"
#include "store/redis/cluster/redirect.hpp"
#include "store/redis/cluster/slot_map.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::cluster {

struct ClusterClientOptions {
  std::vector<Endpoint> seeds;
  // For each master's RedisClient; host, port and connections (one) are the client's.
  RedisOptions link;
  int max_redirects = 5;
  std::chrono::milliseconds try_again_for = cluster::try_again_for;
};

class ClusterClient final : public RedisLink {
 public:
  using Callback = RedisLink::Callback;

  explicit ClusterClient(ClusterClientOptions options);
  // Answers every command still pending with a CONNECTION error, then joins.
  ~ClusterClient() override;
  // The same, before destruction; later commands are answered at once with a
  // CONNECTION error. Idempotent. Not from a callback.
  void stop() override;
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Routed by its first key, args[1], as for GET, SET, HSET, XADD, EXPIRE...
  void command(std::vector<std::string> args, Callback done) override;
  // For commands whose first key is elsewhere (XREADGROUP ... STREAMS key).
  void command_for_key(std::string_view key, std::vector<std::string> args, Callback done) override;
  void command_for_slot(std::uint16_t slot, std::vector<std::string> args, Callback done);
  // EVALSHA, then EVAL on NOSCRIPT, on the slot of the keys.
  void eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback done) override;
  // WAIT on the connection of the key's master, the one its slot's writes went over; while the
  // slot migrates (an ASK for it in the last 10 s), on the ASK's node too, which ran the writes
  // sent there: the answer is the fewer replicas of the two.
  void wait_replicas(std::string_view key, int replicas, std::chrono::milliseconds timeout, Callback done) override;

  // Blocking forms for worker threads; from a callback they answer a
  // CONNECTION error at once. On timeout: "CONNECTION timeout", and the
  // command may still run.
  Reply command_sync(std::vector<std::string> args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  Reply command_sync_for_key(std::string_view key, std::vector<std::string> args,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  Reply eval_sync(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;

  // A map is known and every master in it has its connection up.
  bool connected() const override;
  // For start-up: waits until connected() or the timeout.
  bool wait_connected(std::chrono::milliseconds timeout) const override;

  // A copy of the map as it is now (its version numbers each reading and each
  // MOVED applied), and how many times it was read: for tests and metrics.
  SlotMap slot_map() const;
  std::uint64_t maps_read() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flashgate::store::redis::cluster
