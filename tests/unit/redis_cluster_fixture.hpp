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
#include "store/redis/cluster/cluster_connection.hpp"
#include "store/redis/cluster/endpoint.hpp"
#include "store/redis/cluster/key_slot.hpp"
#include "store/redis/cluster/slot_map.hpp"

namespace flashgate::testing {

namespace cluster_fixture_names {
using store::redis::BlockingRedis;
using store::redis::describe;
using store::redis::Reply;
using store::redis::cluster::ClusterConnection;
using store::redis::cluster::ClusterOptions;
using store::redis::cluster::Endpoint;
using store::redis::cluster::key_slot;
using store::redis::cluster::SlotMap;
}  // namespace cluster_fixture_names
using namespace cluster_fixture_names;

inline const fs::path testenv_redis_cluster = fs::path(FLASHGATE_SOURCE_DIR) / "scripts/testenv/redis-cluster";

// Starts a cluster of `node_count` nodes in `dir` on free ports: the
// command that starts it (again, after a node was killed), or "" on failure.
inline std::string start_test_cluster(const fs::path& dir, int node_count, std::vector<std::uint16_t>& ports_out) {
  // Twice as many distinct ports: each node's own and its cluster bus's.
  std::set<std::uint16_t> taken;
  while (taken.size() < 2 * static_cast<std::size_t>(node_count)) taken.insert(free_port());
  const std::vector<std::uint16_t> ports(taken.begin(), taken.end());
  std::string cmd = testenv_redis_cluster.string() + " start " + dir.string();
  ports_out.clear();
  for (int i = 0; i < node_count; ++i) {
    ports_out.push_back(ports[i]);
    cmd += ' ';
    cmd += std::to_string(ports[i]);
    cmd += ':';
    cmd += std::to_string(ports[node_count + i]);
  }
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << cmd;
    return "";
  }
  return cmd;
}

inline void stop_test_cluster(const fs::path& dir) {
  const std::string cmd = testenv_redis_cluster.string() + " stop " + dir.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// With the steps of a slot migration and a failover, done by hand as an
// operator (or redis-cli --cluster) would.
class RedisClusterTest : public ::testing::Test {
 protected:
  static constexpr int node_count = 6;

  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("flashgate-redis-cluster-test-" + std::to_string(::getpid()));
    start_command_ = start_test_cluster(dir_, node_count, ports_);
    ready_ = !start_command_.empty();
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the Redis Cluster did not start (scripts/testenv/redis-cluster)"; }

  static void TearDownTestSuite() {
    admins_.clear();
    stop_test_cluster(dir_);
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

  // "{tag}suffix", built up rather than by "{" + ...: GCC 12 warns falsely
  // (-Wrestrict) on a literal plus a temporary string.
  static std::string tagged(const std::string& tag, std::string_view suffix) {
    std::string key = "{";
    key += tag;
    key += '}';
    key += suffix;
    return key;
  }

  static ClusterOptions seeded_by_first_node() {
    ClusterOptions options;
    options.seeds = {nodes().front()};
    return options;
  }

  static std::string node_id(std::uint16_t port) {
    const Reply id = admin(port).command({"CLUSTER", "MYID"});
    EXPECT_TRUE(id.ok()) << describe(id);
    return id.str;
  }

  static Reply ok_or_fail(BlockingRedis& redis, const std::vector<std::string>& args) {
    Reply r = redis.command(args);
    EXPECT_TRUE(r.ok()) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << describe(r);
    return r;
  }

  // The steps of the specification's slot migration up to moving the keys:
  // the target imports, the source migrates.
  static void begin_migration(std::uint16_t slot, std::uint16_t from, std::uint16_t to) {
    ok_or_fail(admin(to), {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", node_id(from)});
    ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", node_id(to)});
  }

  // False (a failure of the test) if the target refused it: BUSYKEY if the target has the key already.
  static bool migrate_key(std::uint16_t from, std::uint16_t to, const std::string& key) {
    return ok_or_fail(admin(from), {"MIGRATE", "127.0.0.1", std::to_string(to), key, "0", "5000"}).ok();
  }

  // Moves the slot's remaining keys, then tells every master who owns it.
  static void finish_migration(std::uint16_t slot, std::uint16_t from, std::uint16_t to) {
    for (;;) {
      const Reply keys = ok_or_fail(admin(from), {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
      if (keys.elements.empty()) break;
      for (const auto& key : keys.elements)
        if (!migrate_key(from, to, key.str)) return;  // the slot stays open: the test has failed
    }
    const std::string owner = node_id(to);
    ok_or_fail(admin(to), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", owner});
    ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", owner});
    ClusterConnection probe(seeded_by_first_node());
    ASSERT_TRUE(probe.refresh());
    for (const auto& shard : probe.slot_map().shards())
      if (shard.master.port != to && shard.master.port != from)
        ok_or_fail(admin(shard.master.port), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", owner});
  }

  // A hash tag, named after the test, whose slot `map` gives to a master
  // other than `not_on` (any master if 0).
  static std::string tag_on_another_master(const SlotMap& map, std::uint16_t not_on = 0) {
    const std::string base = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (int i = 0;; ++i) {
      const std::string tag = base + "-" + std::to_string(i);
      const Endpoint* master = map.master_of(key_slot(tag));
      if (master && master->port != not_on) return tag;
    }
  }

  // Until `done` holds, or fails the test after `patience`.
  template <typename Predicate>
  static bool eventually(Predicate done) {
    const auto start = Clock::now();
    while (!done()) {
      if (since(start) > patience) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  static std::uint16_t another_master(const SlotMap& map, std::uint16_t than) {
    for (const auto& shard : map.shards())
      if (shard.master.port != than) return shard.master.port;
    ADD_FAILURE() << "one master only";
    return than;
  }

  inline static fs::path dir_;
  inline static std::string start_command_;
  inline static std::vector<std::uint16_t> ports_;
  inline static bool ready_ = false;
  inline static std::map<std::uint16_t, std::unique_ptr<store::redis::BlockingRedis>> admins_;
};

}  // namespace flashgate::testing
