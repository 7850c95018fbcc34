#include "store/redis/cluster/slot_map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/redis/cluster/redirect.hpp"

namespace {

using namespace flashgate::store::redis::cluster;
using flashgate::store::redis::Reply;

Reply integer(long long value) {
  Reply r;
  r.type = Reply::Type::integer;
  r.integer = value;
  return r;
}

Reply text(std::string value) {
  Reply r;
  r.type = Reply::Type::string;
  r.str = std::move(value);
  return r;
}

Reply array(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(elements);
  return r;
}

Reply nil() { return Reply{}; }

// A node as Redis 7 lists it in CLUSTER SLOTS: endpoint, port, id, metadata.
Reply slots_node(Reply endpoint, long long port, std::vector<Reply> metadata = {}) {
  return array({std::move(endpoint), integer(port), text("id-" + std::to_string(port)), array(std::move(metadata))});
}

Reply slots_entry(long long first, long long last, std::vector<Reply> nodes) {
  std::vector<Reply> entry{integer(first), integer(last)};
  for (auto& node : nodes) entry.push_back(std::move(node));
  return array(std::move(entry));
}

// The three masters and replicas `redis-cli --cluster create` makes.
Reply three_shards() {
  return array({
      slots_entry(0, 5460, {slots_node(text("127.0.0.1"), 7000), slots_node(text("127.0.0.1"), 7004)}),
      slots_entry(5461, 10922, {slots_node(text("127.0.0.1"), 7001), slots_node(text("127.0.0.1"), 7005)}),
      slots_entry(10923, 16383, {slots_node(text("127.0.0.1"), 7002), slots_node(text("127.0.0.1"), 7003)}),
  });
}

TEST(ClusterSlotMap, AnEmptyMapServesNoSlot) {
  const SlotMap map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.master_of(0), nullptr);
  EXPECT_EQ(map.master_of(16383), nullptr);
  EXPECT_EQ(map.master_of(16384), nullptr);
}

TEST(ClusterSlotMap, ClusterSlotsGivesEachSlotItsMasterAndReplicas) {
  const auto parsed = parse_cluster_slots(three_shards(), "127.0.0.1", 7);
  ASSERT_TRUE(parsed.map) << parsed.error;
  const SlotMap& map = *parsed.map;
  EXPECT_EQ(map.version(), 7u);
  EXPECT_EQ(map.slots_served(), 16384u);
  ASSERT_EQ(map.shards().size(), 3u);
  EXPECT_EQ(*map.master_of(0), (Endpoint{"127.0.0.1", 7000}));
  EXPECT_EQ(*map.master_of(5460), (Endpoint{"127.0.0.1", 7000}));
  EXPECT_EQ(*map.master_of(5461), (Endpoint{"127.0.0.1", 7001}));
  EXPECT_EQ(*map.master_of(16383), (Endpoint{"127.0.0.1", 7002}));
  EXPECT_EQ(map.shard_of(10923)->replicas, (std::vector<Endpoint>{{"127.0.0.1", 7003}}));
  const std::vector<SlotRange> expected{{0, 5460, 0}, {5461, 10922, 1}, {10923, 16383, 2}};
  EXPECT_EQ(map.ranges(), expected);
}

TEST(ClusterSlotMap, OneMasterWithSeveralRangesIsOneShard) {
  const Reply reply = array({
      slots_entry(0, 99, {slots_node(text("10.0.0.1"), 6379)}),
      slots_entry(100, 199, {slots_node(text("10.0.0.2"), 6379)}),
      slots_entry(200, 16383, {slots_node(text("10.0.0.1"), 6379)}),
  });
  const auto parsed = parse_cluster_slots(reply, "10.0.0.9", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_EQ(parsed.map->shards().size(), 2u);
  EXPECT_EQ(parsed.map->ranges().size(), 3u);
  EXPECT_EQ(parsed.map->master_of(250)->host, "10.0.0.1");
}

TEST(ClusterSlotMap, UnknownEndpointsAreReachedWhereTheMapWasAsked) {
  // NULL and "" mean the node asked knows no address for it: the same host, its port.
  const Reply reply = array({
      slots_entry(0, 8191, {slots_node(nil(), 7000), slots_node(text(""), 7003)}),
      // "?" (hostnames preferred, none set) falls back on the metadata's ip.
      slots_entry(8192, 16383, {slots_node(text("?"), 7001, {text("ip"), text("10.1.1.1")}),
                                slots_node(text("?"), 7004)}),
  });
  const auto parsed = parse_cluster_slots(reply, "redis.example", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_EQ(*parsed.map->master_of(0), (Endpoint{"redis.example", 7000}));
  EXPECT_EQ(parsed.map->shard_of(0)->replicas, (std::vector<Endpoint>{{"redis.example", 7003}}));
  EXPECT_EQ(*parsed.map->master_of(8192), (Endpoint{"10.1.1.1", 7001}));
  EXPECT_TRUE(parsed.map->shard_of(8192)->replicas.empty());  // "?" and no ip: unreachable
}

TEST(ClusterSlotMap, HostnamesAndIpv6AreKept) {
  const Reply reply = array({
      slots_entry(0, 1, {slots_node(text("node-a.example"), 6379, {text("ip"), text("10.0.0.1")})}),
      slots_entry(2, 3, {slots_node(text("::1"), 7000)}),
  });
  const auto parsed = parse_cluster_slots(reply, "x", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_EQ(parsed.map->master_of(0)->host, "node-a.example");
  EXPECT_EQ(parsed.map->master_of(2)->host, "::1");
  EXPECT_EQ(parsed.map->master_of(2)->to_string(), "[::1]:7000");
  EXPECT_EQ(parsed.map->master_of(4), nullptr);
}

TEST(ClusterSlotMap, OldRedisNodesWithoutIdOrMetadataParse) {
  const Reply reply = array({slots_entry(0, 16383, {array({text("127.0.0.1"), integer(7000)})})});
  const auto parsed = parse_cluster_slots(reply, "x", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_EQ(parsed.map->slots_served(), 16384u);
}

TEST(ClusterSlotMap, MalformedRepliesAreRefusedWithAReason) {
  Reply error = Reply::error("ERR This instance has cluster support disabled");
  EXPECT_FALSE(parse_cluster_slots(error, "x", 1).map);
  EXPECT_NE(parse_cluster_slots(error, "x", 1).error.find("cluster support disabled"), std::string::npos);
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(16384), slots_node(text("a"), 1)})}), "x", 1).map);
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(9), integer(3), slots_node(text("a"), 1)})}), "x", 1).map);
  EXPECT_FALSE(parse_cluster_slots(array({array({integer(0), integer(3)})}), "x", 1).map);
  EXPECT_FALSE(parse_cluster_slots(array({text("0-3")}), "x", 1).map);
  // A master with a port out of range cannot be reached: its slots stay unserved.
  const auto bad_port = parse_cluster_slots(array({slots_entry(0, 3, {slots_node(text("a"), 70000)})}), "x", 1);
  ASSERT_TRUE(bad_port.map);
  EXPECT_TRUE(bad_port.map->empty());
}

TEST(ClusterSlotMap, MovedSlotPointsAtItsNewMasterAndBumpsTheVersion) {
  auto map = *parse_cluster_slots(three_shards(), "127.0.0.1", 1).map;
  map.move_slot(42, {"127.0.0.1", 7001}, 2);
  EXPECT_EQ(map.version(), 2u);
  EXPECT_EQ(*map.master_of(42), (Endpoint{"127.0.0.1", 7001}));
  EXPECT_EQ(*map.master_of(41), (Endpoint{"127.0.0.1", 7000}));
  EXPECT_EQ(map.shards().size(), 3u);
  map.move_slot(43, {"127.0.0.1", 7010}, 3);  // a master the map did not know
  EXPECT_EQ(map.shards().size(), 4u);
  EXPECT_EQ(map.master_of(43)->port, 7010);
}

Reply shards_node(std::string endpoint, long long port, std::string role, std::string health) {
  return array({text("id"), text("id-" + std::to_string(port)), text("port"), integer(port), text("ip"),
                text("127.0.0.1"), text("endpoint"), text(std::move(endpoint)), text("role"), text(std::move(role)),
                text("replication-offset"), integer(100), text("health"), text(std::move(health))});
}

Reply shards_entry(std::vector<long long> bounds, std::vector<Reply> nodes) {
  std::vector<Reply> slots;
  for (long long b : bounds) slots.push_back(integer(b));
  return array({text("slots"), array(std::move(slots)), text("nodes"), array(std::move(nodes))});
}

TEST(ClusterSlotMap, ClusterShardsGivesTheSameMap) {
  const Reply reply = array({
      shards_entry({0, 5460}, {shards_node("127.0.0.1", 7000, "master", "online"),
                               shards_node("127.0.0.1", 7004, "replica", "online")}),
      shards_entry({5461, 10922}, {shards_node("127.0.0.1", 7005, "replica", "loading"),
                                   shards_node("127.0.0.1", 7001, "master", "online")}),
      shards_entry({10923, 16383}, {shards_node("127.0.0.1", 7002, "master", "online"),
                                    shards_node("127.0.0.1", 7003, "replica", "online")}),
  });
  const auto parsed = parse_cluster_shards(reply, "127.0.0.1", 3);
  ASSERT_TRUE(parsed.map) << parsed.error;
  const auto from_slots = parse_cluster_slots(three_shards(), "127.0.0.1", 3);
  EXPECT_EQ(parsed.map->ranges(), from_slots.map->ranges());
  EXPECT_EQ(parsed.map->version(), 3u);
  EXPECT_EQ(parsed.map->shard_of(0)->replicas, (std::vector<Endpoint>{{"127.0.0.1", 7004}}));
  EXPECT_TRUE(parsed.map->shard_of(6000)->replicas.empty());  // still loading: not a replica to read from
}

TEST(ClusterSlotMap, ClusterShardsPrefersTheOnlineMasterAfterAFailover) {
  const Reply reply = array({shards_entry(
      {0, 100, 200, 16383}, {shards_node("127.0.0.1", 7000, "master", "failed"),
                             shards_node("127.0.0.1", 7003, "master", "online")})});
  const auto parsed = parse_cluster_shards(reply, "127.0.0.1", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_EQ(parsed.map->master_of(0)->port, 7003);
  EXPECT_EQ(parsed.map->master_of(150), nullptr);
  EXPECT_EQ(parsed.map->slots_served(), 16384u - 99u);
}

TEST(ClusterSlotMap, ClusterShardsShardWithoutSlotsIsSkipped) {
  const Reply reply = array({shards_entry({}, {shards_node("127.0.0.1", 7006, "master", "online")})});
  const auto parsed = parse_cluster_shards(reply, "127.0.0.1", 1);
  ASSERT_TRUE(parsed.map) << parsed.error;
  EXPECT_TRUE(parsed.map->empty());
  EXPECT_FALSE(parse_cluster_shards(array({array({text("slots")})}), "x", 1).map);
}

TEST(ClusterEndpoint, HostAndPortSplitAtTheLastColon) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:7000"), (Endpoint{"127.0.0.1", 7000}));
  EXPECT_EQ(parse_endpoint("::1:7000"), (Endpoint{"::1", 7000}));
  EXPECT_EQ(parse_endpoint("[2001:db8::5]:6379"), (Endpoint{"2001:db8::5", 6379}));
  EXPECT_EQ(parse_endpoint("redis-0.redis.svc:6379"), (Endpoint{"redis-0.redis.svc", 6379}));
  EXPECT_EQ(parse_endpoint(":7001"), (Endpoint{"", 7001}));
  EXPECT_FALSE(parse_endpoint("127.0.0.1"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:0"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:65536"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:70a"));
  EXPECT_FALSE(parse_endpoint("[::1:7000"));
  EXPECT_FALSE(parse_endpoint("a b:7000"));
}

TEST(ClusterRedirect, MovedNamesTheSlotAndItsNewMaster) {
  const auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "10.0.0.1");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target, (Endpoint{"127.0.0.1", 6381}));
}

TEST(ClusterRedirect, AskNamesTheNodeImportingTheSlot) {
  const auto ask = parse_redirect("ASK 0 10.0.0.2:7002", "10.0.0.1");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::ask);
  EXPECT_EQ(ask->slot, 0);
  EXPECT_EQ(ask->target, (Endpoint{"10.0.0.2", 7002}));
}

TEST(ClusterRedirect, Ipv6HostnamesAndUnknownEndpoints) {
  EXPECT_EQ(parse_redirect("MOVED 16383 ::1:7000", "x")->target, (Endpoint{"::1", 7000}));
  EXPECT_EQ(parse_redirect("MOVED 1 fe80::1%eth0:7000", "x")->target.host, "fe80::1%eth0");
  EXPECT_EQ(parse_redirect("ASK 5 node-b.example:6379", "x")->target, (Endpoint{"node-b.example", 6379}));
  // No endpoint known to the replying node: its own host, the port named.
  EXPECT_EQ(parse_redirect("MOVED 5 :7001", "10.0.0.1")->target, (Endpoint{"10.0.0.1", 7001}));
}

TEST(ClusterRedirect, OtherErrorsAndMalformedRedirectsAreNotRedirects) {
  EXPECT_FALSE(parse_redirect("ERR unknown command", "x"));
  EXPECT_FALSE(parse_redirect("TRYAGAIN Multiple keys request during rehashing of slot", "x"));
  EXPECT_FALSE(parse_redirect("CLUSTERDOWN Hash slot not served", "x"));
  EXPECT_FALSE(parse_redirect("MOVED", "x"));
  EXPECT_FALSE(parse_redirect("MOVED 16384 127.0.0.1:7000", "x"));
  EXPECT_FALSE(parse_redirect("MOVED -1 127.0.0.1:7000", "x"));
  EXPECT_FALSE(parse_redirect("MOVED 12 127.0.0.1", "x"));
  EXPECT_FALSE(parse_redirect("ASK x 127.0.0.1:7000", "x"));
  EXPECT_FALSE(parse_redirect("moved 1 127.0.0.1:7000", "x"));
}

}  // namespace
