#pragma once
// A store test on a real Redis Cluster of 3 masters and 3 replicas: the
// cluster (redis_cluster_fixture.hpp) and what such a test does with a
// RedisStore on it. Shared by the failover and the slot migration suites.
#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <map>
#include <string>

#include "domain/ids.hpp"
#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "redis_cluster_fixture.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_store.hpp"

namespace flashgate::testing {

using namespace std::chrono_literals;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::sale_tag;
using flashgate::store::OrderView;
using flashgate::store::redis::RedisStore;
using flashgate::store::redis::RedisStoreOptions;
namespace keys = flashgate::store::redis::keys;

class RedisClusterStoreTest : public RedisClusterTest {
 protected:
  static void SetUpTestSuite() {
    // A master unreachable this long is replaced by its replica: the failover
    // test waits for that, so shorter than the script's default.
    ::setenv("CLUSTER_NODE_TIMEOUT", "2000", 1);
    RedisClusterTest::SetUpTestSuite();
  }

  static RedisStoreOptions options(const std::string& name, std::chrono::milliseconds reclaim_after = 30s) {
    RedisStoreOptions o;
    o.cluster_seeds = nodes();
    o.consumer_prefix = name + "-" + std::to_string(::getpid());
    o.reclaim_after = reclaim_after;
    return o;
  }

  static SlotMap current_map() {
    ClusterOptions o;
    o.seeds = nodes();
    ClusterConnection probe(o);
    EXPECT_TRUE(probe.refresh());
    return probe.slot_map();
  }

  // The master port of a sale's keys.
  static std::uint16_t master_of_sale(const SlotMap& map, const std::string& sale_id) {
    const auto* master = map.master_of(key_slot(keys::sale(sale_id)));
    return master ? master->port : 0;
  }

  // One sale id per master, named after the test.
  static std::map<std::uint16_t, std::string> a_sale_on_every_master(const SlotMap& map) {
    const std::string base = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::map<std::uint16_t, std::string> by_master;
    for (int i = 0; by_master.size() < map.shards().size() && i < 10'000; ++i) {
      const auto id = base + "-" + std::to_string(i);
      by_master.emplace(master_of_sale(map, id), id);
    }
    EXPECT_EQ(by_master.size(), 3u);
    return by_master;
  }

  static void create_sale(RedisStore& store, const std::string& sale_id, std::int64_t stock) {
    std::promise<void> created;
    store.create_sale(flashgate::domain::Sale{sale_id, "item", stock, std::nullopt, std::nullopt, 1000},
                      [&](auto result) {
                        EXPECT_TRUE(result) << result.error().message;
                        created.set_value();
                      });
    created.get_future().wait();
  }

  // The order id if accepted, "" if refused (the refusal is not a failure here).
  static std::string try_intake(RedisStore& store, const std::string& sale_id, const std::string& user) {
    std::promise<std::string> answer;
    store.intake(sale_id, user, [&](auto result) { answer.set_value(result ? result->view.order.order_id : ""); });
    return answer.get_future().get();
  }

  // A field of a hash, read where the cluster keeps it now.
  static std::string field(const std::string& key, const std::string& name) {
    ClusterOptions o;
    o.seeds = nodes();
    ClusterConnection connection(o);
    return connection.command({"HGET", key, name}).str;
  }
};

}  // namespace flashgate::testing
