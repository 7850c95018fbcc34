#pragma once
// One real Redis Cluster per test suite (scripts/testenv/redis-cluster):
// 3 masters and 3 replicas on loopback, ports chosen free, torn down after.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "redis_server_fixture.hpp"
#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/endpoint.hpp"

namespace flashgate::testing {

inline const fs::path testenv_redis_cluster = fs::path(FLASHGATE_SOURCE_DIR) / "scripts/testenv/redis-cluster";

class RedisClusterTest : public ::testing::Test {
 protected:
  static constexpr int node_count = 6;

  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("flashgate-redis-cluster-test-" + std::to_string(::getpid()));
    // Twelve distinct ports: each node's own and its cluster bus's.
    std::set<std::uint16_t> taken;
    while (taken.size() < 2 * node_count) taken.insert(free_port());
    const std::vector<std::uint16_t> ports(taken.begin(), taken.end());
    std::string& cmd = start_command_;
    cmd = testenv_redis_cluster.string() + " start " + dir_.string();
    ports_.clear();
    for (int i = 0; i < node_count; ++i) {
      ports_.push_back(ports[i]);
      cmd += ' ';
      cmd += std::to_string(ports[i]);
      cmd += ':';
      cmd += std::to_string(ports[node_count + i]);
    }
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ready_ = true;
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the Redis Cluster did not start (scripts/testenv/redis-cluster)"; }

  static void TearDownTestSuite() {
    admins_.clear();
    const std::string cmd = testenv_redis_cluster.string() + " stop " + dir_.string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ready_ = false;
  }

  // SIGKILL, as a crash would.
  static void kill_node(std::uint16_t port) {
    admins_.erase(port);
    const std::string cmd = testenv_redis_cluster.string() + " kill " + dir_.string() + " " + std::to_string(port);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // Starts whichever node is down and waits until the cluster is whole again
  // (a node failed over rejoins as a replica): what a later test expects.
  static void restore_cluster() {
    ASSERT_EQ(std::system(start_command_.c_str()), 0) << start_command_;
  }

  static std::vector<store::redis::cluster::Endpoint> nodes() {
    std::vector<store::redis::cluster::Endpoint> out;
    for (const auto port : ports_) out.push_back({"127.0.0.1", port});
    return out;
  }

  // A plain connection to one node, for what the tests ask a node directly.
  static store::redis::BlockingRedis& admin(std::uint16_t port) {
    auto& redis = admins_[port];
    if (!redis) redis = std::make_unique<store::redis::BlockingRedis>("127.0.0.1", port);
    return *redis;
  }

  inline static fs::path dir_;
  inline static std::string start_command_;
  inline static std::vector<std::uint16_t> ports_;
  inline static bool ready_ = false;
  inline static std::map<std::uint16_t, std::unique_ptr<store::redis::BlockingRedis>> admins_;
};

}  // namespace flashgate::testing
