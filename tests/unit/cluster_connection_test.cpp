#include "store/redis/cluster/cluster_connection.hpp"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <string>
#include <vector>

#include "redis_cluster_fixture.hpp"
#include "store/redis/cluster/key_slot.hpp"
#include "store/redis/cluster/redirect.hpp"
#include "store/redis/cluster/slot_map.hpp"

namespace {

using namespace flashgate::testing;
using namespace flashgate::store::redis::cluster;
using flashgate::store::redis::BlockingRedis;
using flashgate::store::redis::describe;
using flashgate::store::redis::Reply;
using flashgate::store::redis::Script;

using ClusterConnectionTest = RedisClusterTest;

TEST_F(ClusterConnectionTest, KeySlotAgreesWithClusterKeyslotOnRandomKeys) {
  std::mt19937 random(25);  // fixed: a failure names a key that fails again
  const std::string alphabet = "abcxyz0189:-_{}{}";
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> letter(0, alphabet.size() - 1);
  BlockingRedis& node = admin(ports_.front());
  for (int i = 0; i < 3000; ++i) {
    std::string key;
    const int n = length(random);
    for (int c = 0; c < n; ++c)
      key += (i % 3 == 0) ? static_cast<char>(byte(random)) : alphabet[letter(random)];
    if (i % 5 == 1) key = "order:{" + key + "}:status";  // tags, some empty, some nested
    const Reply slot = node.command({"CLUSTER", "KEYSLOT", key});
    ASSERT_EQ(slot.type, Reply::Type::integer) << describe(slot);
    ASSERT_EQ(key_slot(key), slot.integer) << "key #" << i << " '" << key << "'";
  }
}

TEST_F(ClusterConnectionTest, TheLiveMapHasThreeMastersWithAReplicaEach) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const SlotMap& map = cluster.slot_map();
  EXPECT_EQ(map.slots_served(), 16384u);
  ASSERT_EQ(map.shards().size(), 3u);
  for (const auto& shard : map.shards()) EXPECT_EQ(shard.replicas.size(), 1u) << shard.master.to_string();
  EXPECT_GT(map.version(), 0u);

  // CLUSTER SHARDS, asked of another node, describes the same cluster.
  const Reply shards = admin(ports_.back()).command({"CLUSTER", "SHARDS"});
  const auto from_shards = parse_cluster_shards(shards, "127.0.0.1", 1);
  ASSERT_TRUE(from_shards.map) << from_shards.error;
  EXPECT_EQ(from_shards.map->slots_served(), 16384u);
  for (std::uint16_t slot = 0; slot < slot_count; slot += 97) {
    EXPECT_EQ(*from_shards.map->master_of(slot), *map.master_of(slot)) << slot;
    EXPECT_EQ(from_shards.map->shard_of(slot)->replicas, map.shard_of(slot)->replicas) << slot;
  }
}

TEST_F(ClusterConnectionTest, TheLiveMapRoutesEachKeyToTheMasterThatOwnsIt) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const SlotMap& map = cluster.slot_map();
  for (int i = 0; i < 200; ++i) {
    const std::string key = "route:" + std::to_string(i);
    const Endpoint owner = *map.master_of(key_slot(key));
    // The owner serves it; any other master sends it to the owner.
    const Reply there = admin(owner.port).command({"EXISTS", key});
    ASSERT_EQ(there.type, Reply::Type::integer) << key << ": " << describe(there);
    const std::uint16_t other = another_master(map, owner.port);
    const Reply elsewhere = admin(other).command({"EXISTS", key});
    const auto redirect = parse_redirect(elsewhere.str, "127.0.0.1");
    ASSERT_TRUE(redirect) << key << ": " << describe(elsewhere);
    EXPECT_EQ(redirect->kind, Redirect::Kind::moved);
    EXPECT_EQ(redirect->slot, key_slot(key));
    EXPECT_EQ(redirect->target, owner);
  }
}

TEST_F(ClusterConnectionTest, CommandsReachKeysOnEveryMaster) {
  ClusterConnection cluster(seeded_by_first_node());
  std::set<std::uint16_t> masters_written;
  for (int i = 0; masters_written.size() < 3 && i < 1000; ++i) {
    const std::string key = "every-master:" + std::to_string(i);
    const Reply set = cluster.command({"SET", key, "value-" + std::to_string(i)});
    ASSERT_TRUE(set.ok()) << key << ": " << describe(set);
    const Reply get = cluster.command({"GET", key});
    ASSERT_EQ(get.str, "value-" + std::to_string(i)) << describe(get);
    const Endpoint owner = *cluster.slot_map().master_of(key_slot(key));
    // Where the cluster itself keeps it, asked without the connection.
    EXPECT_EQ(admin(owner.port).command({"GET", key}).str, "value-" + std::to_string(i));
    masters_written.insert(owner.port);
  }
  EXPECT_EQ(masters_written.size(), 3u);
}

TEST_F(ClusterConnectionTest, ScriptsRunOnTheSlotOfTheirKeysAndCrossingKeysAreRefused) {
  ClusterConnection cluster(seeded_by_first_node());
  const Script script("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])");
  for (const std::string tag : {"T1", "T2", "T3", "T4"}) {
    const std::vector<std::string> keys{tagged(tag, ":name"), tagged(tag, ":count")};
    const Reply first = cluster.eval(script, keys, {tag});
    ASSERT_EQ(first.type, Reply::Type::integer) << describe(first);
    EXPECT_EQ(first.integer, 1);
    EXPECT_EQ(cluster.eval(script, keys, {tag}).integer, 2);  // by EVALSHA now
    EXPECT_EQ(cluster.command({"GET", keys[0]}).str, tag);
  }
  const Reply crossing = cluster.eval(script, {"{T1}:name", "{T2}:count"}, {"x"});
  EXPECT_TRUE(crossing.str.starts_with("CROSSSLOT")) << describe(crossing);
  EXPECT_EQ(cluster.command({"GET", "{T1}:name"}).str, "T1");  // nothing ran
  EXPECT_TRUE(cluster.eval(script, {}, {"x"}).str.starts_with("ERR")) << "no keys, no slot";
}

TEST_F(ClusterConnectionTest, MovedAfterAMigrationIsFollowedAndTheMapReadAnew) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const std::string tag = tag_on_another_master(cluster.slot_map());
  const std::string key = tagged(tag, ":stock");
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = cluster.slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(cluster.slot_map(), from);
  ASSERT_TRUE(cluster.command({"SET", key, "42"}).ok());
  const auto version_before = cluster.slot_map().version();

  begin_migration(slot, from, to);
  finish_migration(slot, from, to);
  ASSERT_EQ(cluster.slot_map().master_of(slot)->port, from) << "the connection has not heard yet";

  const Reply get = cluster.command({"GET", key});
  EXPECT_EQ(get.str, "42") << describe(get);
  EXPECT_EQ(cluster.slot_map().master_of(slot)->port, to);
  EXPECT_GT(cluster.slot_map().version(), version_before);
  EXPECT_EQ(admin(to).command({"GET", key}).str, "42");
  EXPECT_TRUE(cluster.command({"INCR", key}).ok());
  EXPECT_EQ(admin(to).command({"GET", key}).str, "43");
}

TEST_F(ClusterConnectionTest, AskDuringAMigrationIsFollowedOnceAndTheMapKept) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const std::string tag = tag_on_another_master(cluster.slot_map());
  const std::string moved_key = tagged(tag, ":moved"), staying_key = tagged(tag, ":staying"),
                    new_key = tagged(tag, ":new");
  const std::uint16_t slot = key_slot(tag);
  const std::uint16_t from = cluster.slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(cluster.slot_map(), from);
  ASSERT_TRUE(cluster.command({"SET", moved_key, "gone ahead"}).ok());
  ASSERT_TRUE(cluster.command({"SET", staying_key, "still here"}).ok());

  begin_migration(slot, from, to);
  migrate_key(from, to, moved_key);
  const auto version_before = cluster.slot_map().version();

  EXPECT_EQ(cluster.command({"GET", moved_key}).str, "gone ahead");  // ASK, then ASKING + GET on `to`
  EXPECT_EQ(cluster.command({"GET", staying_key}).str, "still here");  // served by `from` as before
  // A key neither node has yet is created where the slot is going.
  ASSERT_TRUE(cluster.command({"SET", new_key, "created"}).ok());
  EXPECT_TRUE(admin(from).command({"EXISTS", new_key}).integer == 0);
  ASSERT_TRUE(admin(to).command({"ASKING"}).ok());
  EXPECT_EQ(admin(to).command({"GET", new_key}).str, "created");
  // An ASK redirects one command; the slot is still the source's until the migration ends.
  EXPECT_EQ(cluster.slot_map().master_of(slot)->port, from);
  EXPECT_EQ(cluster.slot_map().version(), version_before);

  finish_migration(slot, from, to);
  EXPECT_EQ(cluster.command({"GET", staying_key}).str, "still here");  // now by MOVED
  EXPECT_EQ(cluster.slot_map().master_of(slot)->port, to);
}

TEST_F(ClusterConnectionTest, ACommandWhoseKeysASlotMigrationSplitIsSentAgainUntilTheSlotHasMoved) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const std::string tag = tag_on_another_master(cluster.slot_map());
  const std::string moved_key = tagged(tag, ":moved"), staying_key = tagged(tag, ":staying");
  const std::uint16_t slot = key_slot(tag);
  const std::uint16_t from = cluster.slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(cluster.slot_map(), from);
  ASSERT_TRUE(cluster.command({"SET", moved_key, "a"}).ok());
  ASSERT_TRUE(cluster.command({"SET", staying_key, "b"}).ok());
  begin_migration(slot, from, to);
  ASSERT_TRUE(migrate_key(from, to, moved_key));

  std::thread mover([&] {
    std::this_thread::sleep_for(300ms);
    finish_migration(slot, from, to);
  });
  // Answered with both values only once both keys are on one node: after the migration.
  const Reply values = cluster.command({"MGET", moved_key, staying_key});
  mover.join();
  ASSERT_EQ(values.elements.size(), 2u) << describe(values);
  EXPECT_EQ(values.elements[0].str, "a");
  EXPECT_EQ(values.elements[1].str, "b");
}

TEST_F(ClusterConnectionTest, RedirectsThatGoRoundInCirclesAreBounded) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const std::string key = tagged(tag_on_another_master(cluster.slot_map()), ":nowhere");
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = cluster.slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(cluster.slot_map(), from);
  // Half a migration: the source sends missing keys on with ASK, but the
  // target does not import the slot and sends them back with MOVED.
  ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", node_id(to)});

  const Reply reply = cluster.command({"GET", key});
  EXPECT_TRUE(reply.str.starts_with("ERR too many cluster redirects")) << describe(reply);

  ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"});
  EXPECT_EQ(cluster.command({"GET", key}).type, Reply::Type::nil);
}

TEST_F(ClusterConnectionTest, ASeedThatDoesNotAnswerIsPassedOver) {
  ClusterOptions options;
  options.seeds = {{"127.0.0.1", free_port()}, nodes().back()};  // the last node is a replica, most likely
  ClusterConnection cluster(options);
  ASSERT_TRUE(cluster.command({"SET", "seeded", "yes"}).ok());
  EXPECT_EQ(cluster.command({"GET", "seeded"}).str, "yes");
  EXPECT_EQ(cluster.slot_map().slots_served(), 16384u);
}

TEST_F(ClusterConnectionTest, NoSeedThatAnswersIsAConnectionError) {
  ClusterOptions options;
  options.seeds = {{"127.0.0.1", free_port()}};
  options.connect_timeout = std::chrono::milliseconds(200);
  ClusterConnection cluster(options);
  const Reply reply = cluster.command({"GET", "x"}, std::chrono::milliseconds(500));
  EXPECT_TRUE(reply.connection_failed()) << describe(reply);
  EXPECT_TRUE(cluster.slot_map().empty());
}

TEST_F(ClusterConnectionTest, ShutdownFailsTheCommandsAfterIt) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.command({"SET", "before-shutdown", "1"}).ok());
  cluster.shutdown();
  const Reply reply = cluster.command({"GET", "before-shutdown"});
  EXPECT_TRUE(reply.connection_failed()) << describe(reply);
}

// Last: it changes which nodes are masters (and puts the cluster back whole after).
TEST_F(ClusterConnectionTest, ALostMasterMakesItReadTheMapAndFindThePromotedReplica) {
  ClusterConnection cluster(seeded_by_first_node());
  ASSERT_TRUE(cluster.refresh());
  const std::string key = tagged(tag_on_another_master(cluster.slot_map()), ":survivor");
  const std::uint16_t slot = key_slot(key);
  const Shard shard = *cluster.slot_map().shard_of(slot);
  ASSERT_EQ(shard.replicas.size(), 1u);
  const std::uint16_t master = shard.master.port, replica = shard.replicas.front().port;
  ASSERT_TRUE(cluster.command({"SET", key, "kept"}).ok());
  ASSERT_EQ(admin(master).command({"WAIT", "1", "5000"}).integer, 1) << "the replica has the key";
  const auto version_before = cluster.slot_map().version();

  // The replica takes over at once (no vote), and the other masters hear of it.
  ok_or_fail(admin(replica), {"CLUSTER", "FAILOVER", "TAKEOVER"});
  for (const auto& other : cluster.slot_map().shards()) {
    if (other.master.port == master) continue;
    EXPECT_TRUE(eventually([&] {
      const auto seen = parse_cluster_slots(admin(other.master.port).command({"CLUSTER", "SLOTS"}), "127.0.0.1", 0);
      return seen.map && seen.map->master_of(slot) && seen.map->master_of(slot)->port == replica;
    })) << "master " << other.master.port << " never saw " << replica << " promoted";
  }
  kill_node(master);

  // Its link to the dead master fails: whether or not this command could be
  // sent again, the map is read anew at once.
  const Reply first = cluster.command({"GET", key});
  if (!first.ok()) {
    EXPECT_TRUE(first.connection_failed()) << describe(first);
  }
  EXPECT_EQ(cluster.slot_map().master_of(slot)->port, replica);
  EXPECT_GT(cluster.slot_map().version(), version_before);
  EXPECT_EQ(cluster.command({"GET", key}).str, "kept");

  restore_cluster();
}

}  // namespace
