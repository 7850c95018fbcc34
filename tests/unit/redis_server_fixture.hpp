#pragma once
// One real redis-server per test suite (scripts/testenv/redis), for the tests
// of the Redis client and of the store's scripts.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/redis/redis_client.hpp"

namespace flashgate::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using store::redis::RedisClient;
using store::redis::RedisOptions;
using store::redis::Reply;

// Generous: only reached when something is broken.
constexpr auto patience = 20s;

inline const fs::path testenv_redis = fs::path(FLASHGATE_SOURCE_DIR) / "scripts/testenv/redis";

// A port nobody listens on right now: bind to 0, read what the kernel chose, close.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot find a free port");
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A redis-server of scripts/testenv/redis with its files in `dir`; returns once it answers PING.
inline void start_redis(const fs::path& dir, std::uint16_t port) {
  const std::string cmd = testenv_redis.string() + " start " + dir.string() + " " + std::to_string(port);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

inline void stop_redis(const fs::path& dir) {
  const std::string cmd = testenv_redis.string() + " stop " + dir.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// Where this process keeps the files of its redis-server called `name`.
inline fs::path own_redis_dir(std::string_view name) {
  return fs::temp_directory_path() / (std::string(name) + std::to_string(::getpid()));
}

// Stops the redis-server of `dir` and removes its files.
inline void remove_redis(const fs::path& dir) {
  stop_redis(dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Empties the server: a test finds in it only what it puts there.
inline ::testing::AssertionResult flush_all(RedisClient& admin) {
  const auto flushed = admin.command_sync({"FLUSHALL"});
  if (flushed.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "FLUSHALL: " << store::redis::describe(flushed);
}

inline std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// One real redis-server per test suite, through scripts/testenv/redis.
class RedisServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = own_redis_dir("flashgate-redis-test-");
    port_ = free_port();
    start_server();
    ready_ = !::testing::Test::HasFatalFailure();
  }

  // GoogleTest reports the tests of a suite whose set-up failed as skipped,
  // and ctest counts a skip as a pass: each test fails instead.
  void SetUp() override { ASSERT_TRUE(ready_) << "redis-server did not start (scripts/testenv/redis)"; }

  static void TearDownTestSuite() { remove_redis(dir_); }

  static void start_server() { start_redis(dir_, port_); }
  static void stop_server() { stop_redis(dir_); }

  // Keys of one test do not meet those of another on the shared server.
  static std::string key(std::string_view name) {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ":" + std::string(name);
  }

  static RedisOptions options() {
    RedisOptions o;
    o.port = port_;
    return o;
  }

  // Waits until the client answers again after its connections were cut.
  static Reply until_ok(RedisClient& client, std::vector<std::string> args) {
    const auto start = Clock::now();
    Reply r = client.command_sync(args);
    while (!r.ok() && since(start) < patience) {
      std::this_thread::sleep_for(20ms);
      r = client.command_sync(args);
    }
    return r;
  }

  inline static fs::path dir_;
  inline static std::uint16_t port_ = 0;
  inline static bool ready_ = false;
};

// The suite's server and a client of the test's own beside the code under
// test, to prepare and look at what is in the server.
class RedisAdminTest : public RedisServerTest {
 protected:
  void SetUp() override {
    RedisServerTest::SetUp();
    admin_ = std::make_unique<RedisClient>(options());
    ASSERT_TRUE(admin_->wait_connected(patience));
  }

  std::unique_ptr<RedisClient> admin_;
};

}  // namespace flashgate::testing
