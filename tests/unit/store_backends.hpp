#pragma once
// The stores the Store contract runs against (store_contract_test.cpp and the
// contract's other files, such as store_items_contract_test.cpp): the memory
// store over its real SQLite journal, the Redis store on a real redis-server
// and on a real Redis Cluster. A suite instantiates itself for one of them
// with a StoreKind; the servers are shared by every suite of a run (started
// on first use, stopped by a suite's TearDownTestSuite).
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "redis_cluster_fixture.hpp"
#include "redis_server_fixture.hpp"
#include "store/memory/memory_store.hpp"
#include "store/redis/redis_store.hpp"
#include "store_calls.hpp"

namespace flashgate::testing {

namespace store_backend_names {
using namespace std::chrono_literals;
using database::SqliteDatabase;
using store::MemoryStore;
using store::Store;
using store::redis::RedisStore;
using store::redis::RedisStoreOptions;
}  // namespace store_backend_names
using namespace store_backend_names;

// One store under test, with what it runs on.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Store& store() = 0;
  // Joins every thread that could still call into the test (journal writer,
  // change feed, client I/O) before the fixture's members go.
  virtual void close() = 0;
};

class MemoryBackend final : public Backend {
 public:
  MemoryBackend()
      : db_(std::make_unique<SqliteDatabase>(dir_.path() / "flashgate.db")),
        store_(std::make_unique<MemoryStore>(*db_)) {}
  Store& store() override { return *store_; }
  // The writer commits what is queued (and runs its callbacks) before the store goes.
  void close() override {
    if (db_) db_->close();
    store_.reset();
    db_.reset();
  }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
};

// One redis-server for the Redis cases of a run, emptied before each case.
class SharedRedis {
 public:
  static std::uint16_t port() {
    if (port_ == 0) {
      dir_ = own_redis_dir("flashgate-store-contract-");
      const auto port = free_port();
      start_redis(dir_, port);
      if (!::testing::Test::HasFatalFailure()) port_ = port;
    }
    return port_;
  }
  static void stop() {
    if (port_ == 0) return;
    remove_redis(dir_);
    port_ = 0;
  }

 private:
  inline static fs::path dir_;
  inline static std::uint16_t port_ = 0;
};

class RedisBackend final : public Backend {
 public:
  // Nothing if the server could not be started or emptied (the failure is reported).
  static std::unique_ptr<Backend> open() {
    const auto port = SharedRedis::port();
    if (port == 0) return nullptr;
    RedisClient admin("127.0.0.1", port, 1);
    if (const auto flushed = flush_all(admin); !flushed) {
      ADD_FAILURE() << flushed.message();
      return nullptr;
    }
    return std::unique_ptr<Backend>(new RedisBackend(port));
  }
  Store& store() override { return *store_; }
  void close() override { store_->stop(); }

 private:
  explicit RedisBackend(std::uint16_t port) {
    RedisStoreOptions o;
    o.port = port;
    o.consumer_prefix = numbered("contract-", ::getpid());
    store_ = std::make_unique<RedisStore>(o);
    // As a gateway does: its listeners (and near-cache) hear of changes from the feed.
    store_->follow_changes();
    wait_for_the_feeds_first_pass(port);
  }
  // The feed's first pass starts the streams it finds at their end (a process
  // joining a live deployment does not replay their history), so a case's
  // first writes must come after it, or their changes would count as history
  // (seen: an intake's QUEUED never told). The feed's XREAD, the last step
  // of that pass, shows in CLIENT LIST (the windows read with XREADGROUP).
  static void wait_for_the_feeds_first_pass(std::uint16_t port) {
    RedisClient admin("127.0.0.1", port, 1);
    for (const auto start = Clock::now(); Clock::now() - start < 10s; std::this_thread::sleep_for(10ms)) {
      const auto clients = admin.command_sync({"CLIENT", "LIST"});
      if (clients.ok() && clients.str.find(" cmd=xread ") != std::string::npos) return;
    }
    ADD_FAILURE() << "the Redis store's change feed never started reading";
  }
  std::unique_ptr<RedisStore> store_;
};

// One Redis Cluster for the cluster cases of a run, its masters emptied before each case.
class SharedCluster {
 public:
  static const std::vector<std::uint16_t>& ports() {
    if (ports_.empty() && !failed_) {
      dir_ = own_redis_dir("flashgate-store-contract-cluster-");
      std::vector<std::uint16_t> ports;
      failed_ = start_test_cluster(dir_, 6, ports).empty();
      if (!failed_) ports_ = ports;
    }
    return ports_;
  }
  static void stop() {
    if (ports_.empty()) return;
    stop_test_cluster(dir_);
    ports_.clear();
  }

 private:
  inline static fs::path dir_;
  inline static std::vector<std::uint16_t> ports_;
  inline static bool failed_ = false;
};

class ClusterBackend final : public Backend {
 public:
  static std::unique_ptr<Backend> open() {
    const auto& ports = SharedCluster::ports();
    if (ports.empty()) return nullptr;
    for (const auto port : masters(ports)) {
      BlockingRedis admin("127.0.0.1", port);
      const auto flushed = admin.command({"FLUSHALL"});
      if (!flushed.ok()) {
        ADD_FAILURE() << "FLUSHALL on " << port << ": " << describe(flushed);
        return nullptr;
      }
    }
    return std::unique_ptr<Backend>(new ClusterBackend(ports));
  }
  Store& store() override { return *store_; }
  void close() override { store_->stop(); }

 private:
  explicit ClusterBackend(const std::vector<std::uint16_t>& ports) {
    RedisStoreOptions o;
    // Two seeds of six: the rest is learnt from them.
    o.cluster_seeds = {{"127.0.0.1", ports[0]}, {"127.0.0.1", ports[1]}};
    o.consumer_prefix = numbered("contract-cluster-", ::getpid());
    store_ = std::make_unique<RedisStore>(o);
    EXPECT_EQ(store_->wait_replicas(), 1) << "every master has a replica: each write waits for one";
    store_->follow_changes();
    wait_for_the_feeds_first_pass(masters(ports));
  }
  // The masters now (a failover elsewhere may have swapped roles).
  static std::vector<std::uint16_t> masters(const std::vector<std::uint16_t>& ports) {
    flashgate::store::redis::cluster::ClusterOptions options;
    for (const auto port : ports) options.seeds.push_back({"127.0.0.1", port});
    flashgate::store::redis::cluster::ClusterConnection probe(options);
    EXPECT_TRUE(probe.refresh());
    std::vector<std::uint16_t> out;
    for (const auto& shard : probe.slot_map().shards()) out.push_back(shard.master.port);
    return out;
  }
  // As RedisBackend's: the feed's XREAD shows on a master once its first pass is done.
  static void wait_for_the_feeds_first_pass(const std::vector<std::uint16_t>& masters) {
    for (const auto start = Clock::now(); Clock::now() - start < 10s; std::this_thread::sleep_for(10ms))
      for (const auto port : masters) {
        BlockingRedis admin("127.0.0.1", port);
        const auto clients = admin.command({"CLIENT", "LIST"});
        if (clients.ok() && clients.str.find(" cmd=xread ") != std::string::npos) return;
      }
    ADD_FAILURE() << "the cluster store's change feed never started reading";
  }
  std::unique_ptr<RedisStore> store_;
};

// Where an order a window handed back lines up again. The memory store puts
// it first (it was first before: a window shutting down keeps its place);
// the Redis store appends a new entry to the sale's queue stream, which has
// no front to push to: the order is taken after those queued meanwhile.
// Hand-backs are rare (a window's shutdown, a dead worker's orders), and the
// order keeps its unit either way. Positions follow the intake numbers in both
// stores (seq - started), which in Redis no longer match the queue's order
// after a hand-back; and the Redis gateway's near-cache never lowers a sale's
// count of started orders (it cannot tell a hand-back's lower count from a
// reply that arrived late), so the orders behind the handed-back one read one
// place ahead of theirs until the next claim.
enum class HandBack { first_in_line, behind_the_queue };

struct StoreKind {
  std::string name;
  std::function<std::unique_ptr<Backend>()> open;
  HandBack hand_back;
};

inline void PrintTo(const StoreKind& kind, std::ostream* out) { *out << kind.name; }

// What every contract suite's case starts from: a fresh store of the kind
// under test, its change listener recorded, and a window's claims.
class StoreCase : public ::testing::TestWithParam<StoreKind>, protected StoreSteps {
 protected:
  void SetUp() override {
    backend_ = GetParam().open();
    ASSERT_TRUE(backend_) << GetParam().name << " store did not open";
    store = &backend_->store();
    changes_.attach(*store);
  }
  void TearDown() override {
    if (backend_) backend_->close();
    store = nullptr;
  }
  static void TearDownTestSuite() {
    SharedRedis::stop();
    SharedCluster::stop();
  }

  // A window's claims, as its loop makes them, until one gives an order:
  // the Redis store's windows learn of a new sale's queue within a second.
  std::optional<domain::Order> claim_within(std::chrono::milliseconds limit) {
    std::optional<domain::Order> order;
    for (const auto start = Clock::now(); !order && Clock::now() - start < limit;) order = store->claim(200ms);
    return order;
  }
  domain::Order claimed() override {
    auto order = claim_within(store_patience);
    EXPECT_TRUE(order) << "nothing to claim";
    return order ? *order : domain::Order{};
  }

  // The listener was told of this version of the order (see store_contract_test.cpp's top).
  void published(const std::string& order_id, std::uint64_t version) {
    EXPECT_TRUE(changes_.told(order_id, version))
        << order_id << " v" << version << " never reached the listener: " << describe(changes_.of(order_id));
  }

  ChangeLog changes_;  // declared before the backend: outlives its listener calls
  std::unique_ptr<Backend> backend_;
};

}  // namespace flashgate::testing
