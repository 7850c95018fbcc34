// --store's Redis forms read into the Redis store's options: a single Redis
// (redis://HOST:PORT) or a Redis Cluster's seed nodes
// (redis-cluster://HOST:PORT[,HOST:PORT...]), a bad one refused with its fault
// named; and the replicas each write waits for.
#include "app/redis_store_options.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using flashgate::app::Config;
using flashgate::app::redis_store_options;
using flashgate::store::redis::cluster::Endpoint;

Config with_store(const std::string& store) {
  Config config;
  config.store = store;
  return config;
}

std::string refusal_of(const std::string& store) {
  try {
    redis_store_options(with_store(store));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(RedisStoreOptions, ASingleRedisIsItsHostAndPort) {
  const auto options = redis_store_options(with_store("redis://10.0.0.5:6380"));
  EXPECT_EQ(options.host, "10.0.0.5");
  EXPECT_EQ(options.port, 6380);
  EXPECT_TRUE(options.cluster_seeds.empty());
}

TEST(RedisStoreOptions, AClusterIsItsSeedNodes) {
  const auto options = redis_store_options(with_store("redis-cluster://127.0.0.1:7000,node-b.example:7001,[::1]:7002"));
  EXPECT_EQ(options.cluster_seeds, (std::vector<Endpoint>{{"127.0.0.1", 7000}, {"node-b.example", 7001}, {"::1", 7002}}));
}

TEST(RedisStoreOptions, ABadClusterNodeOrNoneIsRefusedNamingIt) {
  EXPECT_NE(refusal_of("redis-cluster://127.0.0.1:7000,nowhere").find("'nowhere'"), std::string::npos);
  EXPECT_NE(refusal_of("redis-cluster://127.0.0.1:0").find("bad node"), std::string::npos);
  EXPECT_NE(refusal_of("redis-cluster://:7000").find("bad node"), std::string::npos);
  EXPECT_NE(refusal_of("redis-cluster://").find("names no node"), std::string::npos);
  EXPECT_NE(refusal_of("rediscluster://127.0.0.1:7000").find("redis-cluster://HOST:PORT"), std::string::npos);
}

TEST(RedisStoreOptions, TheReplicasWaitedForAreFoundAtStartUnlessSet) {
  Config config = with_store("redis-cluster://127.0.0.1:7000");
  EXPECT_FALSE(redis_store_options(config).wait_replicas) << "-1, the default: found at start";
  config.redis_wait_replicas = 0;
  EXPECT_EQ(redis_store_options(config).wait_replicas, 0);
  config.redis_wait_replicas = 2;
  config.redis_wait_timeout_ms = 250;
  EXPECT_EQ(redis_store_options(config).wait_replicas, 2);
  EXPECT_EQ(redis_store_options(config).wait_timeout, std::chrono::milliseconds(250));
}

}  // namespace
