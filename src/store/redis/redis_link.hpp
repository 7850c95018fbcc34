#pragma once
// What the Redis store needs of its engine, a single Redis or a Redis
// Cluster, in two interfaces with one implementation per engine:
//   RedisLink     the asynchronous, shared client (RedisClient, cluster::ClusterClient),
//                 for the gateway's calls and the sync calls of the periodic tasks;
//   BlockingLink  a blocking connection of one thread (BlockingRedis,
//                 cluster::ClusterConnection), for the reads that wait on the server.
// A command is routed by its first key (args[1]) unless a key is named; on a
// single Redis the key is only that, a name. What cannot span slots in a
// cluster (a multi-stream XREAD, a script's keys) is the caller's to split:
// slot_of() tells which keys may go together (a single Redis says 0 for all).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis {

class RedisLink {
 public:
  using Callback = std::function<void(Reply)>;
  virtual ~RedisLink() = default;

  // From any thread; `done` runs once, on a thread of the link's.
  virtual void command(std::vector<std::string> args, Callback done) = 0;
  // For commands whose first argument is no key (XGROUP CREATE key, SCAN): sent where `key` lives.
  virtual void command_for_key(std::string_view key, std::vector<std::string> args, Callback done) = 0;
  virtual void eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                    Callback done) = 0;
  // WAIT for `replicas` replicas, up to `timeout`, on the connection the
  // writes of `key`'s slot went over: it covers every write sent there before.
  virtual void wait_replicas(std::string_view key, int replicas, std::chrono::milliseconds timeout,
                             Callback done) = 0;

  // Blocking forms for worker threads and periodic tasks.
  virtual Reply command_sync(std::vector<std::string> args,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) = 0;
  // For commands whose first argument is no key (SCAN, XINFO STREAM key): sent where `key` lives.
  virtual Reply command_sync_for_key(std::string_view key, std::vector<std::string> args,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) = 0;
  virtual Reply eval_sync(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) = 0;

  virtual bool connected() const = 0;
  virtual bool wait_connected(std::chrono::milliseconds timeout) const = 0;
  // Answers everything pending with a CONNECTION error; no callback runs afterwards.
  virtual void stop() = 0;
};

class BlockingLink {
 public:
  virtual ~BlockingLink() = default;
  virtual Reply command(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) = 0;
  virtual Reply command_for_key(std::string_view key, const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5)) = 0;
  // Which keys one command may name together: equal slots. Always 0 on a single Redis.
  virtual std::uint16_t slot_of(std::string_view key) const = 0;
  // From any thread: wakes a command blocked here and fails every later one.
  virtual void shutdown() = 0;
};

// Makes a blocking connection of the store's engine, for a thread that blocks.
using BlockingLinkMaker = std::function<std::unique_ptr<BlockingLink>()>;

}  // namespace flashgate::store::redis
