// Opening the backends: what a restart writes before serving is observed
// like every later write (issue #20, item 7: the commit observer used to be
// set by app::serve after the journal's writer had started, while a restart
// was already re-queueing the orders a crash left PROCESSING).
#include <gtest/gtest.h>

#include <future>
#include <random>

#include "app/backends.hpp"
#include "database/sqlite/sqlite_database.hpp"
#include "domain/time.hpp"

namespace {

using flashgate::domain::Order;
using flashgate::domain::OrderStatus;

// The value of an unlabelled sample in the exposition text.
double sample(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

class BackendsDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-backends-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// Strings, not literals, are assigned below: GCC 12 warns falsely on literals here.
const std::string sale_id = "s1";

// A journal as a crash leaves it: a sale and orders a window was working on.
void write_crashed_journal(const std::filesystem::path& file, int processing) {
  flashgate::database::SqliteDatabase journal(file);
  std::promise<bool> sale_written;
  journal.record_sale(flashgate::domain::Sale{"s1", "Item", 10, std::nullopt, std::nullopt, flashgate::domain::now_ms()},
                      [&sale_written](bool ok) { sale_written.set_value(ok); });
  ASSERT_TRUE(sale_written.get_future().get());
  for (int i = 0; i < processing; ++i) {
    Order order;
    // Built in two steps: GCC 12 warns falsely (-Wrestrict) on "literal" + string.
    order.order_id = "o";
    order.order_id += std::to_string(i);
    order.sale_id = sale_id;
    order.user_id = order.order_id;
    order.seq = static_cast<std::uint64_t>(i + 1);
    order.status = OrderStatus::processing;
    order.version = 2;
    std::promise<bool> written;
    journal.record_order(order, [&written](bool ok) { written.set_value(ok); });
    ASSERT_TRUE(written.get_future().get());
  }
  journal.close();
}

TEST_F(BackendsDir, TheRestartsOwnWritesAreObservedLikeEveryOther) {
  write_crashed_journal(dir_ / "flashgate.db", 3);
  flashgate::app::Config config;
  config.data_dir = dir_.string();
  flashgate::metrics::Registry metrics;
  auto backends = flashgate::app::open_backends(config, metrics);
  backends.drain_intakes();

  const auto text = metrics.render();
  EXPECT_GE(sample(text, "flashgate_db_transactions"), 1) << "the restart re-queues its PROCESSING orders";
  EXPECT_EQ(sample(text, "flashgate_db_commit_jobs_count"), sample(text, "flashgate_db_transactions")) << text;
  EXPECT_EQ(sample(text, "flashgate_db_commit_seconds_count"), sample(text, "flashgate_db_transactions")) << text;
  backends.close();
}

// Each backend registers its own gauges (issue #24): the memory store's, read
// at the scrape, beside its journal's; none of Redis's.
TEST_F(BackendsDir, TheMemoryStoreAndItsJournalRegisterTheirOwnGauges) {
  flashgate::app::Config config;
  config.data_dir = dir_.string();
  flashgate::metrics::Registry metrics;
  auto backends = flashgate::app::open_backends(config, metrics);
  std::promise<void> created;
  backends.store().create_sale(
      flashgate::domain::Sale{sale_id, "Item", 10, std::nullopt, std::nullopt, flashgate::domain::now_ms()},
      [&created](auto) { created.set_value(); });
  created.get_future().wait();

  const auto text = metrics.render();
  EXPECT_EQ(sample(text, "flashgate_queue_depth"), 0) << text;
  EXPECT_NE(text.find("\nflashgate_sale_remaining{sale=\"s1\"} 10\n"), std::string::npos)
      << "read at the scrape, not a second later: " << text;
  EXPECT_GE(sample(text, "flashgate_db_transactions"), 0) << text;
  EXPECT_EQ(text.find("flashgate_near_cache"), std::string::npos) << text;
  EXPECT_EQ(text.find("flashgate_outcomes_unwritten"), std::string::npos) << text;
  EXPECT_EQ(backends.outcome_log, nullptr) << "outcomes are heard from the desk's listeners";
  EXPECT_EQ(backends.queue_reclaim, nullptr) << "one process takes from the queue";
  EXPECT_EQ(backends.locks, nullptr);
  backends.close();
}

}  // namespace

// --- a Redis gateway's backends (issue #20, item 4): listeners capture
// objects of app::serve, so once close() returns none of them may run, even
// while another process goes on writing changes.

#include "redis_server_fixture.hpp"
#include "store/redis/redis_store.hpp"

namespace {

using namespace flashgate::testing;

class RedisBackendsTest : public RedisServerTest {};

TEST_F(RedisBackendsTest, NoListenerRunsOnceTheBackendsAreClosed) {
  flashgate::app::Config config;
  config.store = "redis://127.0.0.1:" + std::to_string(port_);
  config.database = "postgresql://127.0.0.1:1/unused";  // a gateway never opens it
  config.role = "gateway";
  flashgate::metrics::Registry metrics;
  auto backends = flashgate::app::open_backends(config, metrics);
  std::atomic<int> heard{0};
  backends.store().on_change([&heard](const flashgate::store::OrderView&) { heard.fetch_add(1); });
  backends.start();

  // Another process's store, writing changes.
  flashgate::store::redis::RedisStoreOptions o;
  o.port = port_;
  o.consumer_prefix = key("writer");
  flashgate::store::redis::RedisStore writer(o);
  const std::string sale_id = key("sale");
  std::promise<void> created;
  writer.create_sale(flashgate::domain::Sale{sale_id, "item", 1000, std::nullopt, std::nullopt, 1000},
                     [&](auto) { created.set_value(); });
  created.get_future().wait();
  int next_user = 0;
  const auto buy = [&] {
    std::promise<void> answered;
    writer.intake(sale_id, "u" + std::to_string(next_user++), [&](auto) { answered.set_value(); });
    answered.get_future().wait();
  };
  for (auto start = Clock::now(); heard.load() == 0 && since(start) < patience;) buy();
  ASSERT_GT(heard.load(), 0) << "the gateway follows the change feed";

  backends.close();
  const int at_close = heard.load();
  for (int i = 0; i < 20; ++i) buy();
  std::this_thread::sleep_for(700ms);  // more than a feed read's block time
  EXPECT_EQ(heard.load(), at_close) << "a listener ran after close()";
}

}  // namespace

namespace {

TEST_F(RedisBackendsTest, TheRedisStoreRegistersItsOwnGaugesAndNoJournals) {
  flashgate::app::Config config;
  config.store = "redis://127.0.0.1:" + std::to_string(port_);
  config.database = "postgresql://127.0.0.1:1/unused";  // a gateway does without it
  config.role = "gateway";
  flashgate::metrics::Registry metrics;
  auto backends = flashgate::app::open_backends(config, metrics);

  const auto text = metrics.render();
  for (const std::string name : {"flashgate_near_cache_hits", "flashgate_near_cache_misses",
                                 "flashgate_intake_sold_out_from_memory", "flashgate_near_cache_orders",
                                 "flashgate_queue_depth", "flashgate_outcomes_unwritten"})
    EXPECT_GE(sample(text, name), 0) << name << " missing:\n" << text;
  EXPECT_EQ(text.find("flashgate_db_"), std::string::npos) << "no journal under Redis:\n" << text;
  EXPECT_NE(backends.outcome_log, nullptr) << "Redis keeps its own outcome log";
  EXPECT_NE(backends.queue_reclaim, nullptr) << "the queue is shared between processes";
  EXPECT_EQ(backends.locks, nullptr) << "no PostgreSQL to take turns on";
  EXPECT_EQ(backends.database, nullptr);
  backends.close();
}

}  // namespace
