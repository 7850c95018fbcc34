#pragma once
// A synchronous Redis connection for one worker thread that blocks on purpose
// (XREADGROUP BLOCK, BLPOP): on the shared async connections such a command
// would stall every command queued behind it. Not thread-safe, except for
// shutdown(); one instance per worker.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

struct redisContext;  // hiredis

namespace flashgate::store::redis {

class BlockingRedis final : public BlockingLink {
 public:
  BlockingRedis(std::string host, std::uint16_t port,
                std::chrono::milliseconds connect_timeout = std::chrono::seconds(2));
  ~BlockingRedis() override;
  BlockingRedis(const BlockingRedis&) = delete;
  BlockingRedis& operator=(const BlockingRedis&) = delete;

  // One command, its reply awaited at most `timeout`: give a BLOCK command
  // more than its BLOCK time. Connects on first use and after a failure, no
  // sooner than the backoff allows (50 ms doubling to 1 s), within `timeout`.
  // A failed link answers a CONNECTION error and is dropped; the command may
  // or may not have run.
  Reply command(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) override;
  // One server: the key names nothing but itself, and every key is in slot 0.
  Reply command_for_key(std::string_view, const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) override {
    return command(args, timeout);
  }
  std::uint16_t slot_of(std::string_view) const override { return 0; }
  // EVALSHA, then EVAL on NOSCRIPT (which means the script did not run).
  Reply eval(const Script& script, const std::vector<std::string>& keys, const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));

  bool connected() const { return context_ != nullptr; }

  // From any thread: wakes a command blocked here and fails every later one
  // with "CONNECTION shut down". For stopping a worker without waiting out its BLOCK.
  void shutdown() override;

 private:
  using Clock = std::chrono::steady_clock;
  bool ensure_connected(Clock::time_point deadline, std::string& why);
  void drop();

  const std::string host_;
  const std::uint16_t port_;
  const std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds backoff_{50};
  Clock::time_point next_attempt_{};
  std::string last_failure_;
  redisContext* context_ = nullptr;
  std::atomic<bool> shut_{false};
  std::mutex mutex_;  // guards context_'s socket against shutdown() from another thread
  std::condition_variable woken_;
};

}  // namespace flashgate::store::redis
