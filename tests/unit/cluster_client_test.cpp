#include "store/redis/cluster/cluster_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis_cluster_fixture.hpp"
#include "store/redis/cluster/key_slot.hpp"
#include "store/redis/cluster/slot_map.hpp"

namespace {

using namespace flashgate::testing;
using namespace flashgate::store::redis::cluster;
using flashgate::store::redis::describe;
using flashgate::store::redis::Reply;
using flashgate::store::redis::Script;

// Counts answers in, for tests that fire many commands and wait for all of them.
class Answers {
 public:
  void one_more() {
    std::lock_guard lock(mutex_);
    ++count_;
    changed_.notify_all();
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, patience, [&] { return count_ >= n; });
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_ = 0;
};

class ClusterClientTest : public RedisClusterTest {
 protected:
  static ClusterClientOptions seeded_by_first_node_async() {
    ClusterClientOptions options;
    options.seeds = {nodes().front()};
    return options;
  }

  // The client with its map read and every master's connection up.
  static std::unique_ptr<ClusterClient> connected_client() {
    auto client = std::make_unique<ClusterClient>(seeded_by_first_node_async());
    EXPECT_TRUE(client->wait_connected(patience));
    return client;
  }

  // EVAL and EVALSHA calls the masters have run, by their own count.
  static long long scripts_run_on_masters(const SlotMap& map) {
    long long total = 0;
    for (const auto& shard : map.shards()) {
      const Reply stats = admin(shard.master.port).command({"INFO", "commandstats"});
      for (const std::string name : {"cmdstat_eval:calls=", "cmdstat_evalsha:calls="}) {
        const auto at = stats.str.find(name);
        if (at != std::string::npos) total += std::stoll(stats.str.substr(at + name.size()));
      }
    }
    return total;
  }
};

TEST_F(ClusterClientTest, CommandsReachKeysOnEveryMaster) {
  auto client = connected_client();
  const SlotMap map = client->slot_map();
  EXPECT_EQ(map.slots_served(), 16384u);
  EXPECT_EQ(map.shards().size(), 3u);
  std::set<std::uint16_t> masters_written;
  for (int i = 0; masters_written.size() < 3 && i < 1000; ++i) {
    const std::string key = "every-master:" + std::to_string(i), value = "value-" + std::to_string(i);
    const Reply set = client->command_sync({"SET", key, value});
    ASSERT_TRUE(set.ok()) << key << ": " << describe(set);
    EXPECT_EQ(client->command_sync({"GET", key}).str, value);
    const std::uint16_t owner = map.master_of(key_slot(key))->port;
    EXPECT_EQ(admin(owner).command({"GET", key}).str, value) << "kept by the master of its slot";
    masters_written.insert(owner);
  }
  EXPECT_EQ(masters_written.size(), 3u);
  // A command whose key is not args[1], routed by the key named.
  ASSERT_TRUE(client->command_sync({"SET", "{named}:a", "1"}).ok());
  std::promise<Reply> got;
  client->command_for_key("{named}:a", {"OBJECT", "ENCODING", "{named}:a"},
                          [&](Reply r) { got.set_value(std::move(r)); });
  const Reply encoding = got.get_future().get();
  EXPECT_EQ(encoding.str, "int") << describe(encoding);
}

TEST_F(ClusterClientTest, ConcurrentCommandsOverManySlotsAreAnsweredInEachSlotsOrder) {
  auto client = connected_client();
  constexpr int threads = 4, keys_per_thread = 24, increments = 150;
  std::mutex seen_mutex;
  std::map<std::string, std::vector<long long>> seen;  // per key, the INCR replies in the order answered
  std::set<std::uint16_t> masters;
  Answers answers;
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      // Each caller its own keys, fired round-robin so that every slot has a pipeline in flight.
      std::vector<std::string> keys;
      for (int k = 0; k < keys_per_thread; ++k) keys.push_back("pipelined:" + std::to_string(t) + ":" + std::to_string(k));
      for (int i = 0; i < increments; ++i)
        for (const auto& key : keys)
          client->command({"INCR", key}, [&, key](Reply r) {
            {
              std::lock_guard lock(seen_mutex);
              seen[key].push_back(r.type == Reply::Type::integer ? r.integer : -1);
            }
            answers.one_more();
          });
    });
  }
  for (auto& c : callers) c.join();
  ASSERT_TRUE(answers.wait_for(threads * keys_per_thread * increments)) << answers.count() << " answers";
  const SlotMap map = client->slot_map();
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(threads * keys_per_thread));
  for (const auto& [key, replies] : seen) {
    std::vector<long long> in_order(increments);
    std::iota(in_order.begin(), in_order.end(), 1);
    EXPECT_EQ(replies, in_order) << key;
    masters.insert(map.master_of(key_slot(key))->port);
  }
  EXPECT_EQ(masters.size(), 3u) << "the keys were spread over every master";
}

TEST_F(ClusterClientTest, ScriptsRunOnTheSlotOfTheirKeysAndCrossingKeysAreRefusedLocally) {
  auto client = connected_client();
  const Script script("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])");
  const std::vector<std::string> keys{tagged("S1", ":name"), tagged("S1", ":count")};
  const Reply first = client->eval_sync(script, keys, {"S1"});
  ASSERT_EQ(first.type, Reply::Type::integer) << describe(first);
  EXPECT_EQ(first.integer, 1);
  EXPECT_EQ(client->eval_sync(script, keys, {"S1"}).integer, 2);  // by EVALSHA now
  const std::uint16_t owner = client->slot_map().master_of(key_slot("S1"))->port;
  EXPECT_EQ(admin(owner).command({"GET", keys[1]}).str, "2");

  const long long scripts_before = scripts_run_on_masters(client->slot_map());
  const Reply crossing = client->eval_sync(script, {tagged("S1", ":name"), tagged("S2", ":count")}, {"x"});
  EXPECT_TRUE(crossing.str.starts_with("CROSSSLOT")) << describe(crossing);
  const Reply no_keys = client->eval_sync(script, {}, {"x"});
  EXPECT_TRUE(no_keys.str.starts_with("ERR")) << describe(no_keys);
  EXPECT_EQ(scripts_run_on_masters(client->slot_map()), scripts_before) << "sent nowhere";
  EXPECT_EQ(client->command_sync({"GET", keys[0]}).str, "S1");

  // A script flushed from its master (a restart) is loaded again by EVAL.
  ASSERT_TRUE(admin(owner).command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_EQ(client->eval_sync(script, keys, {"S1"}).integer, 3);
}

TEST_F(ClusterClientTest, MovedAfterAMigrationIsFollowedAndTheMapReadAnew) {
  auto client = connected_client();
  const std::string key = tagged(tag_on_another_master(client->slot_map()), ":stock");
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = client->slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(client->slot_map(), from);
  ASSERT_TRUE(client->command_sync({"SET", key, "42"}).ok());
  const auto reads_before = client->maps_read();

  begin_migration(slot, from, to);
  finish_migration(slot, from, to);
  ASSERT_EQ(client->slot_map().master_of(slot)->port, from) << "the client has not heard yet";

  const Reply get = client->command_sync({"GET", key});
  EXPECT_EQ(get.str, "42") << describe(get);
  EXPECT_EQ(client->slot_map().master_of(slot)->port, to);
  EXPECT_TRUE(eventually([&] { return client->maps_read() > reads_before; })) << "the map was read anew";
  EXPECT_EQ(client->slot_map().master_of(slot)->port, to);
  EXPECT_TRUE(client->command_sync({"INCR", key}).ok());
  EXPECT_EQ(admin(to).command({"GET", key}).str, "43");
}

TEST_F(ClusterClientTest, AskDuringAMigrationIsFollowedOnceAndTheMapKept) {
  auto client = connected_client();
  const std::string tag = tag_on_another_master(client->slot_map());
  const std::string moved_key = tagged(tag, ":moved"), staying_key = tagged(tag, ":staying"),
                    new_key = tagged(tag, ":new");
  const std::uint16_t slot = key_slot(tag);
  const std::uint16_t from = client->slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(client->slot_map(), from);
  ASSERT_TRUE(client->command_sync({"SET", moved_key, "gone ahead"}).ok());
  ASSERT_TRUE(client->command_sync({"SET", staying_key, "still here"}).ok());

  begin_migration(slot, from, to);
  migrate_key(from, to, moved_key);
  const auto version_before = client->slot_map().version();

  // Many at once from several threads: each ASKING stays with its own
  // command on the target's connection.
  Answers answers;
  std::mutex replies_mutex;
  std::vector<Reply> replies;
  constexpr int threads = 4, n = 200;
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < n / threads; ++i)
        client->command({"GET", i % 2 ? moved_key : staying_key}, [&](Reply r) {
          {
            std::lock_guard lock(replies_mutex);
            replies.push_back(std::move(r));
          }
          answers.one_more();
        });
    });
  for (auto& c : callers) c.join();
  ASSERT_TRUE(answers.wait_for(n));
  std::map<std::string, int> values;
  for (const auto& r : replies) ++values[r.type == Reply::Type::string ? r.str : describe(r)];
  EXPECT_EQ(values["gone ahead"], n / 2);
  EXPECT_EQ(values["still here"], n / 2);

  ASSERT_TRUE(client->command_sync({"SET", new_key, "created"}).ok());  // where the slot is going
  EXPECT_EQ(admin(from).command({"EXISTS", new_key}).integer, 0);
  ASSERT_TRUE(admin(to).command({"ASKING"}).ok());
  EXPECT_EQ(admin(to).command({"GET", new_key}).str, "created");
  EXPECT_EQ(client->slot_map().master_of(slot)->port, from) << "an ASK redirects one command";
  EXPECT_EQ(client->slot_map().version(), version_before);

  finish_migration(slot, from, to);
  EXPECT_EQ(client->command_sync({"GET", staying_key}).str, "still here");  // now by MOVED
  EXPECT_EQ(client->slot_map().master_of(slot)->port, to);
}

TEST_F(ClusterClientTest, ACommandWhoseKeysASlotMigrationSplitIsSentAgainUntilTheSlotHasMoved) {
  auto client = connected_client();
  const std::string tag = tag_on_another_master(client->slot_map());
  const std::string moved_key = tagged(tag, ":moved"), staying_key = tagged(tag, ":staying");
  const std::uint16_t slot = key_slot(tag);
  const std::uint16_t from = client->slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(client->slot_map(), from);
  ASSERT_TRUE(client->command_sync({"SET", moved_key, "a"}).ok());
  ASSERT_TRUE(client->command_sync({"SET", staying_key, "b"}).ok());
  begin_migration(slot, from, to);
  ASSERT_TRUE(migrate_key(from, to, moved_key));

  // Keys on both nodes: TRYAGAIN from the target (after the source's ASK), until the slot has moved;
  // answered with both values only once both are on one node.
  std::promise<Reply> answer;
  client->command({"MGET", moved_key, staying_key}, [&](Reply r) { answer.set_value(std::move(r)); });
  auto reply = answer.get_future();
  std::this_thread::sleep_for(300ms);
  finish_migration(slot, from, to);
  ASSERT_EQ(reply.wait_for(5s), std::future_status::ready);
  const Reply values = reply.get();
  ASSERT_EQ(values.elements.size(), 2u) << describe(values);
  EXPECT_EQ(values.elements[0].str, "a");
  EXPECT_EQ(values.elements[1].str, "b");
}

TEST_F(ClusterClientTest, ATryAgainThatOutlastsItsPatienceIsTheCallersAnswer) {
  ClusterClientOptions options;
  options.seeds = nodes();
  options.try_again_for = 200ms;
  ClusterClient client(options);
  ASSERT_TRUE(client.wait_connected(5s));
  const std::string tag = tag_on_another_master(client.slot_map());
  const std::string moved_key = tagged(tag, ":moved"), staying_key = tagged(tag, ":staying");
  const std::uint16_t slot = key_slot(tag);
  const std::uint16_t from = client.slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(client.slot_map(), from);
  ASSERT_TRUE(client.command_sync({"SET", moved_key, "a"}).ok());
  ASSERT_TRUE(client.command_sync({"SET", staying_key, "b"}).ok());
  begin_migration(slot, from, to);
  ASSERT_TRUE(migrate_key(from, to, moved_key));
  const Reply refused = client.command_sync({"MGET", moved_key, staying_key});
  EXPECT_TRUE(refused.type == Reply::Type::error && refused.str.starts_with("TRYAGAIN")) << describe(refused);
  finish_migration(slot, from, to);
  client.stop();
}

TEST_F(ClusterClientTest, RedirectsThatGoRoundInCirclesAreBounded) {
  auto client = connected_client();
  const std::string key = tagged(tag_on_another_master(client->slot_map()), ":nowhere");
  const std::uint16_t slot = key_slot(key);
  const std::uint16_t from = client->slot_map().master_of(slot)->port;
  const std::uint16_t to = another_master(client->slot_map(), from);
  // The source sends missing keys on with ASK; the target, not importing, sends them back with MOVED.
  ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", node_id(to)});

  const Reply reply = client->command_sync({"GET", key});
  EXPECT_TRUE(reply.str.starts_with("ERR too many cluster redirects")) << describe(reply);

  ok_or_fail(admin(from), {"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"});
  EXPECT_EQ(client->command_sync({"GET", key}).type, Reply::Type::nil);
}

TEST_F(ClusterClientTest, CommandsBeforeTheMapWaitForItAndNoSeedThatAnswersIsAConnectionError) {
  {
    ClusterClient client(seeded_by_first_node_async());
    const Reply first = client.command_sync({"SET", "before-the-map", "1"});  // likely before the map is in
    EXPECT_TRUE(first.ok()) << describe(first);
  }
  ClusterClientOptions options;
  options.seeds = {{"127.0.0.1", free_port()}};
  options.link.connect_timeout = std::chrono::milliseconds(200);
  ClusterClient client(options);
  const Reply reply = client.command_sync({"GET", "x"});
  EXPECT_TRUE(reply.connection_failed()) << describe(reply);
  EXPECT_FALSE(client.connected());
}

TEST_F(ClusterClientTest, StopAnswersEveryPendingCommandOnceAndLaterOnesWithAConnectionError) {
  auto client = connected_client();
  Answers answers;
  std::atomic<int> ok{0}, failed{0}, other{0};
  constexpr int n = 5000;
  for (int i = 0; i < n; ++i)
    client->command({"INCR", "stopping:" + std::to_string(i % 50)}, [&](Reply r) {
      (r.ok() ? ok : r.connection_failed() ? failed : other)++;
      answers.one_more();
    });
  client->stop();
  EXPECT_EQ(answers.count(), static_cast<std::size_t>(n)) << "all answered by the time stop() returns";
  EXPECT_EQ(ok + failed, n);
  EXPECT_EQ(other, 0);
  client->stop();  // idempotent
  const Reply after = client->command_sync({"GET", "stopping:0"});
  EXPECT_TRUE(after.connection_failed()) << describe(after);
  EXPECT_EQ(answers.count(), static_cast<std::size_t>(n)) << "none answered twice";
}

TEST_F(ClusterClientTest, ABlockingCallFromACallbackIsRefused) {
  auto client = connected_client();
  std::promise<Reply> inner;
  client->command({"SET", "from-a-callback", "1"},
                  [&](Reply) { inner.set_value(client->command_sync({"GET", "from-a-callback"})); });
  const Reply reply = inner.get_future().get();
  EXPECT_TRUE(reply.connection_failed()) << describe(reply);
}

// Last: it changes which nodes are masters (and puts the cluster back whole after).
TEST_F(ClusterClientTest, ALostMasterMakesItReadTheMapAndFindThePromotedReplica) {
  auto client = connected_client();
  const std::string key = tagged(tag_on_another_master(client->slot_map()), ":survivor");
  const std::uint16_t slot = key_slot(key);
  const Shard shard = *client->slot_map().shard_of(slot);
  ASSERT_EQ(shard.replicas.size(), 1u);
  const std::uint16_t master = shard.master.port, replica = shard.replicas.front().port;
  ASSERT_TRUE(client->command_sync({"SET", key, "kept"}).ok());
  ASSERT_EQ(admin(master).command({"WAIT", "1", "5000"}).integer, 1) << "the replica has the key";
  const auto reads_before = client->maps_read();

  ok_or_fail(admin(replica), {"CLUSTER", "FAILOVER", "TAKEOVER"});
  const SlotMap before = client->slot_map();
  for (const auto& other : before.shards()) {
    if (other.master.port == master) continue;
    EXPECT_TRUE(eventually([&] {
      const auto seen = parse_cluster_slots(admin(other.master.port).command({"CLUSTER", "SLOTS"}), "127.0.0.1", 0);
      return seen.map && seen.map->master_of(slot) && seen.map->master_of(slot)->port == replica;
    })) << "master " << other.master.port << " never saw " << replica << " promoted";
  }
  kill_node(master);

  // Once its connection to the dead master is down, a command for that
  // master never leaves: it waits for the map read anew and goes to the replica.
  ASSERT_TRUE(eventually([&] { return !client->connected(); })) << "the dead master's connection went down";
  EXPECT_EQ(client->maps_read(), reads_before) << "nothing read the map yet";
  const Reply first = client->command_sync({"GET", key});
  EXPECT_EQ(first.str, "kept") << describe(first);
  EXPECT_TRUE(eventually([&] {
    const SlotMap map = client->slot_map();
    return map.master_of(slot) && map.master_of(slot)->port == replica;
  }));
  EXPECT_GT(client->maps_read(), reads_before);
  EXPECT_EQ(client->command_sync({"GET", key}).str, "kept");
  EXPECT_TRUE(client->wait_connected(patience)) << "every master of the new map is reached";

  restore_cluster();
}

}  // namespace
