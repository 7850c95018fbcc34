#pragma once
// The asynchronous Redis client: a few hiredis async connections driven by an
// Asio io_context on one thread of the client's own (no thread per request),
// commands spread over them round-robin, each connection re-established with
// backoff when it fails.
//
// A reply that is Type::error with str starting "CONNECTION" means the link
// failed, not the command: sent while no connection was up, lost in flight
// (it may have run), or refused because the client is over its bound
// ("CONNECTION overloaded"). The caller decides whether to retry. Right
// after a server restart Redis itself may answer "LOADING ..." while it
// replays its AOF: an error reply for a command that did not run.
//
// Replies come back in order per connection, not across connections: with
// connections = 1 the client is first in, first out. Commands that block
// the server side (BLPOP, XREADGROUP BLOCK) stall the commands queued behind
// them and, past command_timeout, get the connection dropped: use
// BlockingRedis for those. SUBSCRIBE and MONITOR are refused.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::size_t connections = 2;
  std::size_t max_pending = 100'000;  // sent and unanswered, per connection
  std::chrono::milliseconds connect_timeout{2'000};
  // The oldest unanswered command of a connection may wait this long; past it
  // the connection counts as dead (a hung or partitioned server) and is dropped.
  std::chrono::milliseconds command_timeout{10'000};
  std::chrono::milliseconds backoff_min{50};  // between reconnection attempts, doubling
  std::chrono::milliseconds backoff_max{1'000};
};

class RedisClient final : public RedisLink {
 public:
  using Callback = RedisLink::Callback;

  RedisClient(std::string host, std::uint16_t port, std::size_t connections = 2);
  explicit RedisClient(RedisOptions options);
  // Answers every command still pending with a CONNECTION error, then joins.
  // Not from the client's own thread (a callback).
  ~RedisClient() override;
  // The same, before destruction: once it returns no callback runs again, and
  // later commands are answered at once with a CONNECTION error. Idempotent.
  void stop() override;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // From any thread; `done` runs on the client's thread, exactly once.
  // Arguments are binary-safe.
  void command(std::vector<std::string> args, Callback done) override;
  // One server: the key names nothing but itself.
  void command_for_key(std::string_view, std::vector<std::string> args, Callback done) override {
    command(std::move(args), std::move(done));
  }
  // EVALSHA; on NOSCRIPT (a restarted or flushed server) the same call once
  // more as EVAL, which also loads the script. NOSCRIPT means the script did
  // not run, so the second attempt cannot run it twice.
  void eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback done) override;
  // WAIT on one of the connections: it covers the writes sent over that one
  // only, so a store that waits for replicas gives its client one connection.
  void wait_replicas(std::string_view key, int replicas, std::chrono::milliseconds timeout, Callback done) override;

  // Blocking forms for worker threads. From the client's own thread they
  // answer a CONNECTION error at once instead of deadlocking. On timeout the
  // answer is "CONNECTION timeout" and the command may still run.
  Reply command_sync(std::vector<std::string> args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  Reply command_sync_for_key(std::string_view key, std::vector<std::string> args,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  Reply eval_sync(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;

  // At least one connection is up.
  bool connected() const override;
  // For start-up: waits until connected() or the timeout.
  bool wait_connected(std::chrono::milliseconds timeout) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flashgate::store::redis
