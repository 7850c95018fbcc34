// The PostgreSQL system of record against a real server. The binary owns its
// cluster (scripts/testenv/postgres in a temp dir on a free port), so these
// tests always run; FLASHGATE_TEST_POSTGRES_URL points them at another server
// instead, except the restart test, which needs a server it may stop.
#include "database/postgres/postgres_database.hpp"
#include "database/postgres/migrations.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "database/postgres/migrations.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "store/store.hpp"
#include "worker/outcome_mirror.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using flashgate::database::PostgresDatabase;
using flashgate::database::postgres::ConnectionSettings;
using flashgate::domain::Order;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;

fs::path script() {
  if (const char* path = std::getenv("FLASHGATE_TESTENV_POSTGRES")) return path;
  // CMake compiles with absolute paths: tests/unit/ -> the repository root.
  return fs::path(FLASHGATE_SOURCE_DIR) / "scripts" / "testenv" / "postgres";
}

// The script's last line of output; throws with all of it if the script fails.
std::string run_script(const std::string& arguments) {
  const std::string command = "'" + script().string() + "' " + arguments + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output, line;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) output += buffer;
  const int status = pclose(pipe.release());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(command + " failed:\n" + output);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output.substr(output.rfind('\n') + 1);
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// A cluster of our own, in /tmp (as root the server runs as `postgres`, who
// must be able to reach the directory).
class OwnedCluster {
 public:
  OwnedCluster() {
    char pattern[] = "/tmp/flashgate-pg-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    for (int attempt = 0; url_.empty(); ++attempt) {  // another process may take the free port first
      try {
        port_ = free_port();
        url_ = run_script("start " + dir_.string() + " " + std::to_string(port_));
      } catch (const std::exception&) {
        if (attempt == 2) throw;
      }
    }
  }
  ~OwnedCluster() {
    try {
      stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  void stop() { run_script("stop " + dir_.string()); }
  void start() { run_script("start " + dir_.string() + " " + std::to_string(port_)); }
  const std::string& url() const { return url_; }

 private:
  fs::path dir_;
  int port_ = 0;
  std::string url_;
};

// A short-lived libpq connection for looking at what the database holds.
std::optional<std::string> query_one(const std::string& url, const std::string& sql,
                                     const std::vector<std::string>& params = {}) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), PQfinish);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexecParams(conn.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                   0),
      PQclear);
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) return std::string();
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return std::nullopt;
  return std::string(PQgetvalue(result.get(), 0, 0));
}

Order make_order(const std::string& id, OrderStatus status = OrderStatus::processing) {
  Order order;
  order.order_id = id;
  order.sale_id = "sale-" + id;
  order.user_id = "user-" + id;
  order.status = status;
  order.created_at = order.updated_at = flashgate::domain::now_ms();
  return order;
}

// The schema as migration 1 left it, for the later migrations to meet.
void create_version1_schema(const std::string& url) {
  query_one(url, "CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
  query_one(url, "INSERT INTO schema_migrations (version) VALUES (1)");
  query_one(url, "CREATE TABLE sales (sale_id text PRIMARY KEY, item text NOT NULL, stock bigint NOT NULL, "
                 "starts_at bigint, ends_at bigint, created_at bigint NOT NULL, remaining_db bigint)");
  query_one(url, "CREATE TABLE orders (order_id text PRIMARY KEY, sale_id text NOT NULL, user_id text NOT NULL, "
                 "status text NOT NULL, payment_id text NOT NULL DEFAULT '', reason text NOT NULL DEFAULT '', "
                 "created_at bigint NOT NULL, updated_at bigint NOT NULL)");
}

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (const char* url = std::getenv("FLASHGATE_TEST_POSTGRES_URL"); url && *url) {
      url_ = url;
      return;
    }
    cluster_ = std::make_unique<OwnedCluster>();
    url_ = cluster_->url();
  }
  // GoogleTest reports the tests of a suite whose set-up failed as skipped,
  // and ctest counts a skip as a pass: each test fails instead.
  void SetUp() override { ASSERT_FALSE(url_.empty()) << "no PostgreSQL to test against (scripts/testenv/postgres)"; }
  static void TearDownTestSuite() { cluster_.reset(); }

  // Tests share the database, so each names its rows with a fresh prefix.
  std::string id(const std::string& name) const { return prefix_ + "-" + name; }
  std::string status_of(const std::string& order_id) const {
    return query_one(url_, "SELECT status FROM orders WHERE order_id = $1", {order_id}).value_or("(none)");
  }

  // An empty database of its own, for the migrations to meet for the first time.
  std::string fresh_database() {
    const std::string name = "flashgate_" + flashgate::domain::new_order_id();
    query_one(url_, "CREATE DATABASE " + name);
    const auto query = url_.find('?');
    const std::string base = url_.substr(0, query);
    const auto slash = base.rfind('/');
    const std::string server = slash > base.find("://") + 2 ? base.substr(0, slash) : base;
    created_.push_back(name);
    return server + "/" + name + (query == std::string::npos ? "" : url_.substr(query));
  }
  void TearDown() override {
    for (const auto& name : created_) query_one(url_, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  static inline std::unique_ptr<OwnedCluster> cluster_;
  static inline std::string url_;
  std::string prefix_ = fresh_prefix();
  // Appended, not "t" + id: GCC 12's -Wrestrict misreads that once inlined into many tests.
  static std::string fresh_prefix() {
    std::string prefix = "t";
    prefix += flashgate::domain::new_order_id();
    return prefix;
  }
  std::vector<std::string> created_;
};

TEST(PostgresConnectionSettings, DescribesHostAndDatabaseNeverThePassword) {
  const ConnectionSettings settings("postgresql://flash:s3cret-pw@db.example:6543/orders?sslmode=disable");
  EXPECT_EQ(settings.describe(), "db.example:6543/orders");
}

TEST(PostgresConnectionSettings, RefusesAMalformedUrlWithoutQuotingIt) {
  try {
    ConnectionSettings("postgresql://flash:s3cret%zz@db.example/orders");
    FAIL() << "a malformed URL was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresDatabaseTest, MigrationsAreIdempotent) {
  const std::string url = fresh_database();
  { PostgresDatabase first(url); }
  { PostgresDatabase second(url); }
  const auto latest = std::to_string(flashgate::database::postgres::latest_schema_version());
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM schema_migrations"), latest);  // versions 1..latest, once each
  EXPECT_EQ(query_one(url, "SELECT max(version) FROM schema_migrations"), latest);
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM sales"), "0");
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM orders"), "0");
}

TEST_F(PostgresDatabaseTest, ConcurrentConstructionTakesTurns) {
  const std::string url = fresh_database();
  std::latch go(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      try {
        PostgresDatabase db(url);
        if (!db.create_order(make_order(id("concurrent-" + std::to_string(i))))) errors[i] = "create_order failed";
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM schema_migrations"),
            std::to_string(flashgate::database::postgres::latest_schema_version()));
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM orders"), "2");
}

TEST_F(PostgresDatabaseTest, TheOrdersIndexIsBuiltOutsideTheMigrationAndAnInvalidOneAgain) {
  const std::string url = fresh_database();
  const std::string index = "SELECT indisvalid::text || '/' || indisunique::text FROM pg_index "
                            "WHERE indexrelid = to_regclass('orders_sale_id_status')";
  { PostgresDatabase db(url); }
  EXPECT_EQ(query_one(url, index), "true/false");
  { PostgresDatabase again(url); }  // nothing to build: the same index
  EXPECT_EQ(query_one(url, index), "true/false");

  // A concurrent build that stopped halfway leaves its index INVALID (here:
  // a unique one that the rows refuse).
  query_one(url, "DROP INDEX orders_sale_id_status");
  query_one(url, "INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at) "
                 "VALUES ('a', 's', 'u', 'FAILED', 1, 1), ('b', 's', 'v', 'FAILED', 1, 1)");
  EXPECT_THROW(query_one(url, "CREATE UNIQUE INDEX CONCURRENTLY orders_sale_id_status ON orders (sale_id, status)"),
               std::runtime_error);
  ASSERT_EQ(query_one(url, index), "false/true");
  PostgresDatabase db(url);
  EXPECT_EQ(query_one(url, index), "true/false") << "the INVALID index was not built again";
  EXPECT_TRUE(db.record_outcome(make_order(id("after"), OrderStatus::failed)));
}

TEST_F(PostgresDatabaseTest, CreateOrderKeepsTheShopsExternalId) {
  PostgresDatabase db(url_);
  auto with_id = make_order(id("shop"));
  with_id.external_id = "SHOP-17";
  ASSERT_TRUE(db.create_order(with_id));
  ASSERT_TRUE(db.create_order(make_order(id("none"))));
  EXPECT_EQ(query_one(url_, "SELECT external_id FROM orders WHERE order_id = $1", {id("shop")}), "SHOP-17");
  EXPECT_EQ(query_one(url_, "SELECT external_id FROM orders WHERE order_id = $1", {id("none")}), "");
}

TEST_F(PostgresDatabaseTest, Migration2AddsExternalIdToTheRowsOfVersion1) {
  const std::string url = fresh_database();
  create_version1_schema(url);
  query_one(url, "INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at) "
                 "VALUES ('old', 's', 'u', 'CONFIRMED', 1, 1)");
  PostgresDatabase db(url);
  EXPECT_EQ(query_one(url, "SELECT external_id FROM orders WHERE order_id = 'old'"), "");
  auto order = make_order(id("new"));
  order.external_id = "SHOP-2";
  ASSERT_TRUE(db.create_order(order));
  EXPECT_EQ(query_one(url, "SELECT external_id FROM orders WHERE order_id = $1", {id("new")}), "SHOP-2");
}

TEST_F(PostgresDatabaseTest, OrderRowsAndSalesKeepTheirQuantities) {
  PostgresDatabase db(url_);
  Sale sale{id("qsale"), "lamp", 10, std::nullopt, std::nullopt, 1};
  sale.max_per_buyer = 4;
  ASSERT_TRUE(db.record_sale(sale));
  EXPECT_EQ(query_one(url_, "SELECT max_per_buyer FROM sales WHERE sale_id = $1", {sale.sale_id}), "4");
  EXPECT_EQ(query_one(url_, "SELECT buckets FROM sales WHERE sale_id = $1", {sale.sale_id}), "1");
  Sale bucketed{id("bsale"), "lamp", 10, std::nullopt, std::nullopt, 1};
  bucketed.buckets = 6;
  ASSERT_TRUE(db.record_sale(bucketed));
  EXPECT_EQ(query_one(url_, "SELECT buckets FROM sales WHERE sale_id = $1", {bucketed.sale_id}), "6");
  auto confirmed = make_order(id("three"));
  confirmed.quantity = 3;
  ASSERT_TRUE(db.create_order(confirmed));
  auto failed = make_order(id("failed"), OrderStatus::failed);
  failed.quantity = 2;
  ASSERT_TRUE(db.record_outcome(failed));  // a FAILED order's row is made by its outcome
  ASSERT_TRUE(db.create_order(make_order(id("one"))));
  const std::string sql = "SELECT quantity FROM orders WHERE order_id = $1";
  EXPECT_EQ(query_one(url_, sql, {id("three")}), "3");
  EXPECT_EQ(query_one(url_, sql, {id("failed")}), "2");
  EXPECT_EQ(query_one(url_, sql, {id("one")}), "1");
}

TEST_F(PostgresDatabaseTest, Migration5GivesTheRowsOfBeforeOneUnit) {
  const std::string url = fresh_database();
  create_version1_schema(url);
  query_one(url, "INSERT INTO sales VALUES ('s', 'w', 5, NULL, NULL, 1, NULL)");
  query_one(url, "INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at) "
                 "VALUES ('old', 's', 'u', 'CONFIRMED', 1, 1)");
  PostgresDatabase db(url);
  EXPECT_EQ(query_one(url, "SELECT quantity FROM orders WHERE order_id = 'old'"), "1");
  EXPECT_EQ(query_one(url, "SELECT max_per_buyer FROM sales WHERE sale_id = 's'"), "1");
}

TEST_F(PostgresDatabaseTest, CreateOrderExactlyOnceUnderRacingThreads) {
  PostgresDatabase db(url_, 4);
  constexpr int orders = 40, threads = 8;
  std::latch go(threads);
  std::atomic<int> refused{0};
  std::vector<std::thread> racers;
  for (int t = 0; t < threads; ++t)
    racers.emplace_back([&, t] {
      go.arrive_and_wait();
      for (int i = 0; i < orders; ++i) {
        const int n = (i + t * 5) % orders;  // the racers meet on every id, in different orders
        if (!db.create_order(make_order(id(std::to_string(n))))) refused.fetch_add(1);
      }
    });
  for (auto& r : racers) r.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(query_one(url_, "SELECT count(*) FROM orders WHERE starts_with(order_id, $1)", {prefix_}),
            std::to_string(orders));
  EXPECT_EQ(query_one(url_, "SELECT count(*) FROM orders WHERE starts_with(order_id, $1) AND status <> 'CONFIRMED'",
                      {prefix_}),
            "0");
}

TEST_F(PostgresDatabaseTest, PoolNeverOpensMoreConnectionsThanItsSize) {
  const std::string url = fresh_database();
  PostgresDatabase db(url, 2);
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i)
        if (!db.create_order(make_order(id(std::to_string(t) + "-" + std::to_string(i))))) refused.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(db.count_orders(), 160u);
  EXPECT_EQ(query_one(url,
                      "SELECT count(*) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND application_name = 'flashgate'"),
            "2");
}

TEST_F(PostgresDatabaseTest, RecordSaleIsIdempotent) {
  PostgresDatabase db(url_);
  Sale sale{id("sale"), "lamp", 10, std::nullopt, 1'900'000'000'000, 1'800'000'000'000};
  ASSERT_TRUE(db.record_sale(sale));
  sale.item = "another item";
  ASSERT_TRUE(db.record_sale(sale));
  EXPECT_EQ(query_one(url_, "SELECT count(*) FROM sales WHERE sale_id = $1", {sale.sale_id}), "1");
  EXPECT_EQ(query_one(url_, "SELECT item FROM sales WHERE sale_id = $1", {sale.sale_id}), "lamp");
  EXPECT_EQ(query_one(url_, "SELECT starts_at FROM sales WHERE sale_id = $1", {sale.sale_id}), std::nullopt);
  EXPECT_EQ(query_one(url_, "SELECT ends_at FROM sales WHERE sale_id = $1", {sale.sale_id}), "1900000000000");
}

TEST_F(PostgresDatabaseTest, FlushStockIsVisibleInRemainingDb) {
  PostgresDatabase db(url_);
  ASSERT_TRUE(db.record_sale(Sale{id("a"), "a", 10, std::nullopt, std::nullopt, 1}));
  ASSERT_TRUE(db.record_sale(Sale{id("b"), "b", 5, std::nullopt, std::nullopt, 1}));
  const std::string sql = "SELECT remaining_db FROM sales WHERE sale_id = $1";
  EXPECT_EQ(query_one(url_, sql, {id("a")}), std::nullopt);  // never flushed yet

  ASSERT_TRUE(db.flush_stock({{id("a"), 7}, {id("b"), 0}}));
  EXPECT_EQ(query_one(url_, sql, {id("a")}), "7");
  EXPECT_EQ(query_one(url_, sql, {id("b")}), "0");
  ASSERT_TRUE(db.flush_stock({{id("a"), 3}}));
  EXPECT_EQ(query_one(url_, sql, {id("a")}), "3");
  EXPECT_TRUE(db.flush_stock({}));
}

TEST_F(PostgresDatabaseTest, PaidThenCancelledStaysPaid) {
  PostgresDatabase db(url_);
  Order order = make_order(id("paid"));
  ASSERT_TRUE(db.create_order(order));
  EXPECT_EQ(status_of(order.order_id), "CONFIRMED");

  order.status = OrderStatus::paid;
  order.payment_id = "pay-1";
  ASSERT_TRUE(db.record_outcome(order));
  ASSERT_TRUE(db.record_outcome(order));  // the provider repeats itself
  order.status = OrderStatus::cancelled;
  order.payment_id.clear();
  order.reason = "payment_timeout";
  ASSERT_TRUE(db.record_outcome(order));

  EXPECT_EQ(status_of(order.order_id), "PAID");
  EXPECT_EQ(query_one(url_, "SELECT payment_id || '/' || reason FROM orders WHERE order_id = $1", {order.order_id}),
            "pay-1/");
}

TEST_F(PostgresDatabaseTest, CancelledThenPaidStaysCancelled) {
  PostgresDatabase db(url_);
  Order order = make_order(id("cancelled"));
  ASSERT_TRUE(db.create_order(order));
  order.status = OrderStatus::cancelled;
  order.reason = "payment_timeout";
  ASSERT_TRUE(db.record_outcome(order));
  order.status = OrderStatus::paid;
  order.payment_id = "pay-late";
  ASSERT_TRUE(db.record_outcome(order));
  EXPECT_EQ(status_of(order.order_id), "CANCELLED");
  EXPECT_EQ(query_one(url_, "SELECT reason FROM orders WHERE order_id = $1", {order.order_id}), "payment_timeout");
}

TEST_F(PostgresDatabaseTest, FailedOrderGetsARowWithItsReason) {
  PostgresDatabase db(url_);
  Order order = make_order(id("failed"), OrderStatus::failed);
  order.reason = "downstream_rejected";
  ASSERT_TRUE(db.record_outcome(order));
  ASSERT_TRUE(db.record_outcome(order));
  EXPECT_EQ(status_of(order.order_id), "FAILED");
  EXPECT_EQ(query_one(url_, "SELECT reason FROM orders WHERE order_id = $1", {order.order_id}), "downstream_rejected");
  EXPECT_EQ(query_one(url_, "SELECT user_id FROM orders WHERE order_id = $1", {order.order_id}), order.user_id);
}

TEST_F(PostgresDatabaseTest, NonFinalOutcomeRecordsNothing) {
  PostgresDatabase db(url_);
  EXPECT_TRUE(db.record_outcome(make_order(id("queued"), OrderStatus::queued)));
  EXPECT_EQ(status_of(id("queued")), "(none)");
}

TEST_F(PostgresDatabaseTest, CountOrdersCountsEveryRow) {
  PostgresDatabase db(url_);
  const std::uint64_t before = db.count_orders();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(db.create_order(make_order(id(std::to_string(i)))));
  ASSERT_TRUE(db.create_order(make_order(id("0"))));  // again: still one row
  Order failed = make_order(id("failed"), OrderStatus::failed);
  ASSERT_TRUE(db.record_outcome(failed));
  EXPECT_EQ(db.count_orders(), before + 6);
}

TEST_F(PostgresDatabaseTest, SurvivesAServerRestart) {
  // This test stops the server, so it needs one it owns even when the others
  // run against FLASHGATE_TEST_POSTGRES_URL.
  std::unique_ptr<OwnedCluster> own = cluster_ ? nullptr : std::make_unique<OwnedCluster>();
  OwnedCluster& cluster = own ? *own : *cluster_;
  PostgresDatabase db(cluster.url(), 2);
  ASSERT_TRUE(db.create_order(make_order(id("before"))));

  cluster.stop();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(db.create_order(make_order(id("during"))));  // a value, not an exception, and no hang
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(db.count_orders(), 0u);

  cluster.start();
  bool healed = false;
  for (const auto deadline = std::chrono::steady_clock::now() + 30s;
       !healed && std::chrono::steady_clock::now() < deadline;) {
    healed = db.create_order(make_order(id("during")));
    if (!healed) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(healed) << "no call succeeded within 30 s of the server's return";
  // Every pooled connection, not just the first, works again.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(db.create_order(make_order(id("after-" + std::to_string(i)))));
  Order paid = make_order(id("before"), OrderStatus::paid);
  paid.payment_id = "pay-after-restart";
  EXPECT_TRUE(db.record_outcome(paid));
  EXPECT_EQ(query_one(cluster.url(), "SELECT count(*) FROM orders WHERE starts_with(order_id, $1)", {prefix_}), "12");
  EXPECT_EQ(query_one(cluster.url(), "SELECT status FROM orders WHERE order_id = $1", {id("before")}), "PAID");
}

// --- the draws of a Redis store's draw sales (DrawLog) ---

TEST_F(PostgresDatabaseTest, TheFirstSeedOfADrawStaysAndIsTheAnswer) {
  PostgresDatabase db(url_);
  const std::string seed_a(64, 'a'), seed_b(64, 'b');
  EXPECT_EQ(db.record_draw_seed(id("s"), seed_a, 1000, 3), seed_a);
  EXPECT_EQ(db.record_draw_seed(id("s"), seed_a, 1000, 3), seed_a);  // the same drawer again
  EXPECT_EQ(db.record_draw_seed(id("s"), seed_b, 2000, 3), seed_a);  // another seed: the first is the draw's
  EXPECT_EQ(query_one(url_, "SELECT seeded_at || '/' || entrants || '/' || (drawn_at IS NULL) FROM draws WHERE sale_id = $1",
                      {id("s")}),
            "1000/3/true");
}

TEST_F(PostgresDatabaseTest, ADrawsResultIsWrittenOnceWithEveryEntrantAndItsPosition) {
  PostgresDatabase db(url_);
  const std::string seed(64, 'c');
  ASSERT_EQ(db.record_draw_seed(id("s"), seed, 1000, 3), seed);
  // Buyer ids as a client may send them: quotes, backslashes, commas and braces survive the array literal.
  const std::vector<flashgate::domain::DrawEntrant> entrants{
      {id("o1"), "plain", 1, 900}, {id("o2"), "qu\"o,te{}", 2, 901}, {id("o3"), "back\\slash", 1, 902}};
  flashgate::domain::DrawResult result;
  result.position = {2, 1, 0};
  result.ranking = {1, 0, 2};
  result.admitted = 2;
  result.units_admitted = 3;
  ASSERT_TRUE(db.record_draw_result(id("s"), 5000, entrants, result));
  result.position = {0, 0, 1};  // a later call (it cannot differ for one seed) changes nothing
  ASSERT_TRUE(db.record_draw_result(id("s"), 6000, entrants, result));
  EXPECT_EQ(query_one(url_, "SELECT drawn_at || '/' || admitted || '/' || units FROM draws WHERE sale_id = $1", {id("s")}),
            "5000/2/3");
  EXPECT_EQ(query_one(url_,
                      "SELECT string_agg(user_id || ':' || quantity || ':' || entered_at || ':' || "
                      "coalesce(position::text, 'NULL'), ' ' ORDER BY order_id) FROM draw_entrants WHERE sale_id = $1",
                      {id("s")}),
            "plain:1:900:2 qu\"o,te{}:2:901:1 back\\slash:1:902:NULL");
}

TEST_F(PostgresDatabaseTest, NotDrawnIsAFinalRowWithoutAnEventForTheSink) {
  const std::string url = fresh_database();
  PostgresDatabase db(url, 2, PostgresDatabase::default_acquire_timeout, /*event_outbox=*/true);
  Order order = make_order(id("loser"), OrderStatus::not_drawn);
  order.version = 2;
  ASSERT_TRUE(db.record_outcomes({order, make_order(id("failed"), OrderStatus::failed)}));
  EXPECT_EQ(query_one(url, "SELECT status FROM orders WHERE order_id = $1", {order.order_id}), "NOT_DRAWN");
  Order later = order;
  later.status = OrderStatus::cancelled;
  ASSERT_TRUE(db.record_outcome(later));  // a final status sticks
  EXPECT_EQ(query_one(url, "SELECT status FROM orders WHERE order_id = $1", {order.order_id}), "NOT_DRAWN");
  const auto events = db.take(10);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);  // the FAILED order's; the shop never saw the NOT_DRAWN one
  EXPECT_EQ((*events)[0].status, "FAILED");
}

// --- the event sink's outbox ---

TEST_F(PostgresDatabaseTest, TheOutboxTakesEachOutcomeOnceWhenTheRowChanges) {
  const std::string url = fresh_database();
  PostgresDatabase db(url, 2, PostgresDatabase::default_acquire_timeout, /*event_outbox=*/true);
  Order order = make_order(id("outbox"));
  order.version = 2;  // PROCESSING, as the window holds it
  order.quantity = 3;
  ASSERT_TRUE(db.create_order(order));
  ASSERT_TRUE(db.create_order(order));  // a repeat (a reclaimed order): no second event
  Order paid = order;
  paid.status = OrderStatus::paid;
  paid.version = 4;
  paid.payment_id = "pay-1";
  paid.updated_at = 1234;
  ASSERT_TRUE(db.record_outcome(paid));
  ASSERT_TRUE(db.record_outcome(paid));  // mirrored again: the row is final, nothing changes
  Order cancelled = paid;
  cancelled.status = OrderStatus::cancelled;
  ASSERT_TRUE(db.record_outcome(cancelled));  // the row took PAID first: no event
  const auto events = db.take(10);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].status, "CONFIRMED");
  EXPECT_EQ((*events)[0].version, 3u);
  EXPECT_EQ((*events)[1].status, "PAID");
  EXPECT_EQ((*events)[1].version, 4u);
  EXPECT_EQ((*events)[1].at, 1234);
  EXPECT_EQ((*events)[0].quantity, 3);  // each event tells the units of its order
  EXPECT_EQ((*events)[1].quantity, 3);
  EXPECT_EQ(db.depth(), 2u);
  ASSERT_TRUE(db.delivered({(*events)[0].id}));
  EXPECT_EQ(db.depth(), 1u);
  EXPECT_EQ(db.take(10)->front().status, "PAID");
}

TEST_F(PostgresDatabaseTest, WithoutAnEventSinkNothingIsQueued) {
  const std::string url = fresh_database();
  PostgresDatabase db(url);
  Order failed = make_order(id("quiet"), OrderStatus::failed);
  ASSERT_TRUE(db.create_order(make_order(id("quiet-2"))));
  ASSERT_TRUE(db.record_outcome(failed));
  EXPECT_EQ(db.depth(), 0u);
}

TEST_F(PostgresDatabaseTest, OneProcessHoldsTheDeliveryLockUntilItsConnectionGoes) {
  const std::string url = fresh_database();
  auto first = std::make_unique<PostgresDatabase>(url, 1, PostgresDatabase::default_acquire_timeout, true);
  PostgresDatabase second(url, 1, PostgresDatabase::default_acquire_timeout, true);
  ASSERT_TRUE(first->hold_delivery_lock());
  EXPECT_TRUE(first->hold_delivery_lock());  // still its own
  EXPECT_FALSE(second.hold_delivery_lock());
  first.reset();  // its connection closes, as a dead worker's does
  bool taken = false;
  for (auto until = std::chrono::steady_clock::now() + 10s; !taken && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(50ms))
    taken = second.hold_delivery_lock();
  EXPECT_TRUE(taken);
}

TEST_F(PostgresDatabaseTest, OneProcessHoldsTheArchiveLockUntilItsConnectionGoes) {
  const std::string url = fresh_database();
  auto first = std::make_unique<PostgresDatabase>(url, 1);
  PostgresDatabase second(url, 1);
  ASSERT_TRUE(first->hold_archive_lock());
  EXPECT_TRUE(first->hold_archive_lock());  // still its own
  EXPECT_FALSE(second.hold_archive_lock());
  EXPECT_TRUE(second.hold_delivery_lock()) << "the archive lock is not the delivery lock";
  first.reset();  // its connection closes, as a dead worker's does
  bool taken = false;
  for (auto until = std::chrono::steady_clock::now() + 10s; !taken && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(50ms))
    taken = second.hold_archive_lock();
  EXPECT_TRUE(taken);
}

TEST_F(PostgresDatabaseTest, OneArchiveAtATimeWhicheverProcessLeadsTheRounds) {
  const std::string url = fresh_database();
  PostgresDatabase worker(url, 1), gateway(url, 1);
  ASSERT_TRUE(worker.hold_archive_lock());  // the worker runs the rounds, for as long as it lives
  ASSERT_TRUE(gateway.lock_archive(0ms)) << "an admin call must not wait for the rounds' leadership";
  EXPECT_FALSE(worker.lock_archive(100ms)) << "two processes archiving at once";
  gateway.unlock_archive();
  ASSERT_TRUE(worker.lock_archive(0ms));
  auto waiting = std::async(std::launch::async, [&] { return gateway.lock_archive(30s); });
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  worker.unlock_archive();
  EXPECT_TRUE(waiting.get()) << "a waiter takes the lock once it is released";
  gateway.unlock_archive();
  gateway.unlock_archive();  // not held: nothing to do
  EXPECT_TRUE(worker.lock_archive(0ms));
  worker.unlock_archive();
}

// The final numbers of an archived sale: counts indexed by OrderStatus.
flashgate::store::SaleView final_numbers(const Sale& sale, std::int64_t remaining, std::uint64_t paid,
                                         std::uint64_t failed, std::uint64_t cancelled) {
  flashgate::store::SaleView view;
  view.sale = sale;
  view.remaining = remaining;
  view.counts[static_cast<std::size_t>(OrderStatus::paid)] = paid;
  view.counts[static_cast<std::size_t>(OrderStatus::failed)] = failed;
  view.counts[static_cast<std::size_t>(OrderStatus::cancelled)] = cancelled;
  view.units = view.counts;
  view.units[static_cast<std::size_t>(OrderStatus::paid)] = 2 * paid;  // the paid orders were of two units
  return view;
}

TEST_F(PostgresDatabaseTest, ASaleIsSettledThenArchivedOnceWithItsFinalNumbers) {
  PostgresDatabase db(url_);
  const Sale sale{id("sale"), "lamp", 10, std::nullopt, 1'900'000'000'000, 1'800'000'000'000};
  EXPECT_FALSE(db.find_sale(sale.sale_id));
  EXPECT_FALSE(db.mark_settled(sale.sale_id, 5)) << "no row to mark";
  ASSERT_TRUE(db.record_sale(sale));
  auto live = db.find_sale(sale.sale_id);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->sale.item, "lamp");
  EXPECT_EQ(live->sale.ends_at, 1'900'000'000'000);
  EXPECT_EQ(live->remaining, 10);  // never flushed: the stock
  EXPECT_FALSE(live->remaining_db);
  EXPECT_FALSE(live->settled_since);
  EXPECT_FALSE(live->archived_at);

  ASSERT_TRUE(db.flush_stock({{sale.sale_id, 4}}));
  ASSERT_TRUE(db.mark_settled(sale.sale_id, 1000));
  EXPECT_EQ(db.find_sale(sale.sale_id)->settled_since, 1000);
  EXPECT_EQ(db.find_sale(sale.sale_id)->remaining, 4);
  ASSERT_TRUE(db.mark_settled(sale.sale_id, std::nullopt));  // no longer settled
  EXPECT_FALSE(db.find_sale(sale.sale_id)->settled_since);
  ASSERT_TRUE(db.mark_settled(sale.sale_id, 2000));

  ASSERT_TRUE(db.archive_sale(final_numbers(sale, 3, 5, 1, 1), 9000));
  auto archived = db.find_sale(sale.sale_id);
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->archived_at, 9000);
  EXPECT_EQ(archived->settled_since, 2000);
  EXPECT_EQ(archived->remaining, 3);
  EXPECT_EQ(archived->counts[static_cast<std::size_t>(OrderStatus::paid)], 5u);
  EXPECT_EQ(archived->counts[static_cast<std::size_t>(OrderStatus::failed)], 1u);
  EXPECT_EQ(archived->counts[static_cast<std::size_t>(OrderStatus::cancelled)], 1u);
  EXPECT_EQ(archived->counts[static_cast<std::size_t>(OrderStatus::queued)], 0u);
  EXPECT_EQ(archived->units[static_cast<std::size_t>(OrderStatus::paid)], 10u);
  EXPECT_EQ(archived->units[static_cast<std::size_t>(OrderStatus::failed)], 1u);

  // Again, with other numbers (a worker that read them later): the first stay.
  ASSERT_TRUE(db.archive_sale(final_numbers(sale, 0, 7, 0, 0), 9500));
  ASSERT_TRUE(db.flush_stock({{sale.sale_id, 8}}));  // a late flush
  EXPECT_FALSE(db.mark_settled(sale.sale_id, std::nullopt));
  const auto again = db.find_sale(sale.sale_id);
  EXPECT_EQ(again->archived_at, 9000);
  EXPECT_EQ(again->remaining, 3);
  EXPECT_EQ(again->settled_since, 2000);
  EXPECT_EQ(again->counts[static_cast<std::size_t>(OrderStatus::paid)], 5u);
}

// Every status has its columns: the draw's ENTERED and NOT_DRAWN as much as the others.
TEST_F(PostgresDatabaseTest, ArchiveKeepsTheCountOfEveryStatus) {
  PostgresDatabase db(url_);
  const Sale sale{id("drawn"), "lamp", 10, std::nullopt, 1'900'000'000'000, 1'800'000'000'000};
  ASSERT_TRUE(db.record_sale(sale));
  auto numbers = final_numbers(sale, 2, 0, 0, 0);
  for (auto status : flashgate::domain::all_statuses) {
    numbers.counts[static_cast<std::size_t>(status)] = 10 + static_cast<std::size_t>(status);
    numbers.units[static_cast<std::size_t>(status)] = 100 + static_cast<std::size_t>(status);
  }
  ASSERT_TRUE(db.archive_sale(numbers, 9000));
  const auto archived = db.find_sale(sale.sale_id);
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->counts, numbers.counts);
  EXPECT_EQ(archived->units, numbers.units);
  EXPECT_EQ(archived->remaining, 2);
}

TEST_F(PostgresDatabaseTest, ArchivingASaleTheFlushNeverRecordedMakesItsRow) {
  PostgresDatabase db(url_);
  const Sale sale{id("unflushed"), "kettle", 2, 1'700'000'000'000, std::nullopt, 1'600'000'000'000};
  ASSERT_TRUE(db.archive_sale(final_numbers(sale, 0, 2, 0, 0), 7000));
  const auto found = db.find_sale(sale.sale_id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->sale.item, "kettle");
  EXPECT_EQ(found->sale.starts_at, 1'700'000'000'000);
  EXPECT_EQ(found->archived_at, 7000);
  EXPECT_EQ(found->settled_since, 7000);
  EXPECT_TRUE(db.record_sale(sale));  // the flush comes late: the archived row stays
  EXPECT_EQ(db.find_sale(sale.sale_id)->archived_at, 7000);
}

TEST_F(PostgresDatabaseTest, SalesArePagedBySaleIdLiveAndArchived) {
  const std::string url = fresh_database();
  PostgresDatabase db(url);
  for (const char* name : {"e", "a", "c", "b", "d"})
    ASSERT_TRUE(db.record_sale(Sale{name, "item", 1, std::nullopt, std::nullopt, 1}));
  ASSERT_TRUE(db.archive_sale(final_numbers(Sale{"b", "item", 1, std::nullopt, std::nullopt, 1}, 0, 1, 0, 0), 50));
  ASSERT_TRUE(db.archive_sale(final_numbers(Sale{"d", "item", 1, std::nullopt, std::nullopt, 1}, 1, 0, 1, 0), 60));
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    const auto sales = db.list_sales(after, 2);
    EXPECT_LE(sales.size(), 2u);
    if (sales.empty()) break;
    for (const auto& record : sales) {
      seen.push_back(record.sale.sale_id);
      EXPECT_EQ(record.archived_at.has_value(), record.sale.sale_id == "b" || record.sale.sale_id == "d");
    }
    after = sales.back().sale.sale_id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(db.archived_sale_ids(), (std::vector<std::string>{"b", "d"}));
}

TEST_F(PostgresDatabaseTest, OrderCountsCountTheSalesRowsPerStatus) {
  PostgresDatabase db(url_);
  const std::string sale_id = id("counted");
  const auto order_of = [&](const std::string& name, OrderStatus status) {
    Order order = make_order(id(name), status);
    order.sale_id = sale_id;
    return order;
  };
  ASSERT_TRUE(db.create_order(order_of("confirmed", OrderStatus::processing)));
  ASSERT_TRUE(db.create_order(order_of("paid", OrderStatus::processing)));
  Order paid = order_of("paid", OrderStatus::paid);
  paid.payment_id = "p-1";
  ASSERT_TRUE(db.record_outcome(paid));
  ASSERT_TRUE(db.record_outcome(order_of("failed-1", OrderStatus::failed)));
  ASSERT_TRUE(db.record_outcome(order_of("failed-2", OrderStatus::failed)));
  ASSERT_TRUE(db.create_order(make_order(id("other-sale"))));
  const auto counts = db.order_counts(sale_id);
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)[static_cast<std::size_t>(OrderStatus::confirmed)], 1u);
  EXPECT_EQ((*counts)[static_cast<std::size_t>(OrderStatus::paid)], 1u);
  EXPECT_EQ((*counts)[static_cast<std::size_t>(OrderStatus::failed)], 2u);
  EXPECT_EQ((*counts)[static_cast<std::size_t>(OrderStatus::cancelled)], 0u);
  EXPECT_EQ(db.order_counts(id("no-such-sale")), (std::array<std::uint64_t, flashgate::domain::all_statuses.size()>{}));

  // The store has the CONFIRMED order PAID already, its outcome on its way here.
  flashgate::store::SaleView view;
  view.sale.sale_id = sale_id;
  view.counts[static_cast<std::size_t>(OrderStatus::paid)] = 2;
  view.counts[static_cast<std::size_t>(OrderStatus::failed)] = 2;
  EXPECT_FALSE(db.holds_final_orders(view));
  Order late = order_of("confirmed", OrderStatus::paid);
  late.payment_id = "p-2";
  ASSERT_TRUE(db.record_outcome(late));
  EXPECT_TRUE(db.holds_final_orders(view));
  view.counts[static_cast<std::size_t>(OrderStatus::cancelled)] = 1;  // one more than here
  EXPECT_FALSE(db.holds_final_orders(view));
}

// --- outcomes in batches (the outcome mirror's writes) ---

TEST_F(PostgresDatabaseTest, ABatchOfOutcomesIsRecordedAsOneByOneWouldRecordIt) {
  const std::string url = fresh_database();
  PostgresDatabase db(url, 2, PostgresDatabase::default_acquire_timeout, /*event_outbox=*/true);
  Order a = make_order(id("a")), b = make_order(id("b"));
  ASSERT_TRUE(db.create_order(a));
  ASSERT_TRUE(db.create_order(b));
  a.status = OrderStatus::paid;
  a.payment_id = "pay-a";
  b.status = OrderStatus::cancelled;
  b.reason = "payment_timeout";
  Order c = make_order(id("c"), OrderStatus::failed);  // never created: the outcome makes its row
  c.reason = "downstream_rejected";
  Order a_late = a;  // the payment timeout racing the payment, in the same batch
  a_late.status = OrderStatus::cancelled;
  a_late.payment_id.clear();
  const std::vector<Order> batch{a, b, c, a_late, make_order(id("queued"), OrderStatus::queued)};
  ASSERT_TRUE(db.record_outcomes(batch));

  const auto status_here = [&](const std::string& order_id) {
    return query_one(url, "SELECT status FROM orders WHERE order_id = $1", {order_id}).value_or("(none)");
  };
  EXPECT_EQ(status_here(a.order_id), "PAID");
  EXPECT_EQ(status_here(b.order_id), "CANCELLED");
  EXPECT_EQ(status_here(c.order_id), "FAILED");
  EXPECT_EQ(status_here(id("queued")), "(none)");
  EXPECT_EQ(query_one(url, "SELECT payment_id FROM orders WHERE order_id = $1", {a.order_id}), "pay-a");
  // Two CONFIRMED, then one event per row that changed: none for a_late.
  auto events = db.take(100);
  ASSERT_TRUE(events);
  std::vector<std::string> seen;
  for (const auto& e : *events) seen.push_back(e.order_id + " " + e.status);
  EXPECT_EQ(seen, (std::vector<std::string>{a.order_id + " CONFIRMED", b.order_id + " CONFIRMED",
                                            a.order_id + " PAID", b.order_id + " CANCELLED",
                                            c.order_id + " FAILED"}));
  // Handed out again (a worker died before it said recorded): nothing changes, nothing is queued twice.
  ASSERT_TRUE(db.record_outcomes(batch));
  EXPECT_EQ(db.depth(), 5u);
  EXPECT_TRUE(db.record_outcomes({}));
}

TEST_F(PostgresDatabaseTest, ABatchOfOutcomesIsWrittenWhollyOrNotAtAll) {
  PostgresDatabase db(url_);
  Order good = make_order(id("good"), OrderStatus::failed);
  Order bad = make_order(id("bad"), OrderStatus::failed);
  bad.reason = "\xff\xfe";  // not UTF-8: the server refuses this row
  EXPECT_FALSE(db.record_outcomes({good, bad}));
  EXPECT_EQ(status_of(good.order_id), "(none)") << "half a batch was committed";
  EXPECT_TRUE(db.record_outcomes({good}));
  EXPECT_EQ(status_of(good.order_id), "FAILED");
  EXPECT_TRUE(db.record_outcome(good)) << "the connection is usable after the failed batch";
}

// Outcomes fed to the mirror while the server is down all reach it once it is back: a batch that
// fails is retried whole, and nothing is marked recorded before the database has it.
TEST_F(PostgresDatabaseTest, TheOutcomeMirrorRetriesItsBatchUntilTheServerIsBack) {
  std::unique_ptr<OwnedCluster> own = cluster_ ? nullptr : std::make_unique<OwnedCluster>();
  OwnedCluster& cluster = own ? *own : *cluster_;
  PostgresDatabase db(cluster.url(), 2, 200ms);
  flashgate::worker::ListenedOutcomes log;
  constexpr int count = 250;  // more than one take() hands out
  cluster.stop();
  {
    flashgate::worker::OutcomeMirror mirror(log, db);
    for (int i = 0; i < count; ++i) {
      flashgate::store::OrderView view;
      const std::string name = std::string("m").append(std::to_string(i));
      view.order = make_order(id(name), i % 2 ? OrderStatus::failed : OrderStatus::cancelled);
      log.changed(view);
    }
    std::this_thread::sleep_for(300ms);  // the mirror meets the outage
    cluster.start();
    std::string rows;
    for (const auto deadline = std::chrono::steady_clock::now() + 30s;
         rows != std::to_string(count) && std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(50ms)) {
      try {
        rows = query_one(cluster.url(), "SELECT count(*) FROM orders WHERE starts_with(order_id, $1)", {prefix_})
                   .value_or("");
      } catch (const std::exception&) {
        rows.clear();  // still starting
      }
    }
    EXPECT_EQ(rows, std::to_string(count));
  }  // the mirror stops
  EXPECT_TRUE(log.take(0ms).empty()) << "an outcome the database has was not marked recorded";
  EXPECT_EQ(query_one(cluster.url(), "SELECT count(*) FROM orders WHERE starts_with(order_id, $1) AND status = 'FAILED'",
                      {prefix_}),
            std::to_string(count / 2));
}

// Not a test of behaviour: what one transaction per batch saves (fsync on, as
// scripts/testenv/postgres runs). Run with
//   unit_tests --gtest_also_run_disabled_tests --gtest_filter='*MeasureOutcomeWrites*'
TEST_F(PostgresDatabaseTest, DISABLED_MeasureOutcomeWritesOneByOneAgainstBatchesOf100) {
  PostgresDatabase db(url_);
  constexpr int count = 2000;
  const auto orders = [&](const std::string& name) {
    std::vector<Order> list;
    for (int i = 0; i < count; ++i) list.push_back(make_order(id(name + std::to_string(i)), OrderStatus::failed));
    return list;
  };
  const auto one_by_one = orders("single");
  const auto started = std::chrono::steady_clock::now();
  for (const auto& order : one_by_one) ASSERT_TRUE(db.record_outcome(order));
  const auto single = std::chrono::steady_clock::now() - started;
  const auto batched = orders("batch");
  const auto batch_started = std::chrono::steady_clock::now();
  for (std::size_t from = 0; from < batched.size(); from += 100)
    ASSERT_TRUE(db.record_outcomes(std::vector<Order>(batched.begin() + static_cast<std::ptrdiff_t>(from),
                                                      batched.begin() + static_cast<std::ptrdiff_t>(from + 100))));
  const auto batch = std::chrono::steady_clock::now() - batch_started;
  EXPECT_EQ(query_one(url_, "SELECT count(*) FROM orders WHERE starts_with(order_id, $1)", {prefix_}),
            std::to_string(2 * count));
  const auto per_second = [](std::chrono::steady_clock::duration d) {
    return count / std::chrono::duration<double>(d).count();
  };
  std::printf("%d outcomes: one transaction each %.0f/s, batches of 100 %.0f/s\n", count, per_second(single),
              per_second(batch));
}

// Sales of several items (issue #26, migration 10).
Sale two_items(const std::string& sale_id) {
  Sale sale{sale_id, "gadgets", 8, std::nullopt, 1'900'000'000'000, 1'800'000'000'000};
  sale.items = {flashgate::domain::SaleItem{"phone", "Phone \"X\", 128 GB", 3, 1},
                flashgate::domain::SaleItem{"buds", "Buds", 5, 2}};
  return sale;
}

TEST_F(PostgresDatabaseTest, Migration10GivesTheRowsOfBeforeNoItem) {
  const std::string url = fresh_database();
  create_version1_schema(url);
  query_one(url, "INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at) "
                 "VALUES ('old', 's', 'u', 'CONFIRMED', 1, 1)");
  PostgresDatabase db(url);
  EXPECT_EQ(query_one(url, "SELECT item_id FROM orders WHERE order_id = 'old'"), "");
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM sale_items"), "0");
  EXPECT_EQ(query_one(url, "SELECT max(version) FROM schema_migrations"), "10");
}

TEST_F(PostgresDatabaseTest, ASaleOfSeveralItemsIsRecordedOnceAndReadBackInItsOrder) {
  const std::string url = fresh_database();
  PostgresDatabase db(url);
  const Sale sale = two_items("multi");
  ASSERT_TRUE(db.record_sale(sale));
  ASSERT_TRUE(db.record_sale(sale));  // idempotent: no second set of items
  ASSERT_TRUE(db.record_sale(Sale{"plain", "lamp", 2, std::nullopt, std::nullopt, 1}));
  EXPECT_EQ(query_one(url, "SELECT count(*) FROM sale_items"), "2");
  const auto found = db.find_sale("multi");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->sale.items.size(), 2u);
  EXPECT_EQ(found->sale.items[0].item_id, "phone");
  EXPECT_EQ(found->sale.items[0].name, "Phone \"X\", 128 GB");
  EXPECT_EQ(found->sale.items[0].stock, 3);
  EXPECT_EQ(found->sale.items[1].item_id, "buds");
  EXPECT_EQ(found->sale.items[1].max_per_buyer, 2);
  EXPECT_TRUE(db.find_sale("plain")->sale.items.empty());
  const auto listed = db.list_sales("", 10);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].sale.sale_id, "multi");
  EXPECT_EQ(listed[0].sale.items.size(), 2u);
  EXPECT_EQ(listed[0].sale.items[1].name, "Buds");
  ASSERT_EQ(listed[0].items.size(), 2u);
  EXPECT_EQ(listed[0].items[1].remaining, 5);  // never flushed: the stock
  EXPECT_FALSE(listed[0].items[1].remaining_db);
  EXPECT_TRUE(listed[1].items.empty());
  EXPECT_TRUE(listed[1].sale.items.empty());
}

TEST_F(PostgresDatabaseTest, OrderRowsAndEventsSayTheirItem) {
  const std::string url = fresh_database();
  PostgresDatabase db(url, 2, PostgresDatabase::default_acquire_timeout, /*event_outbox=*/true);
  Order phone = make_order(id("phone"));
  phone.item_id = "phone";
  phone.version = 2;
  ASSERT_TRUE(db.create_order(phone));
  Order failed = make_order(id("buds"), OrderStatus::failed);
  failed.item_id = "buds";
  failed.version = 3;
  ASSERT_TRUE(db.record_outcome(failed));  // a FAILED order's row is made by its outcome
  ASSERT_TRUE(db.create_order(make_order(id("plain"))));
  const std::string sql = "SELECT item_id FROM orders WHERE order_id = $1";
  EXPECT_EQ(query_one(url, sql, {id("phone")}), "phone");
  EXPECT_EQ(query_one(url, sql, {id("buds")}), "buds");
  EXPECT_EQ(query_one(url, sql, {id("plain")}), "");
  const auto events = db.take(10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].item_id, "phone");
  EXPECT_EQ((*events)[1].item_id, "buds");
  EXPECT_EQ((*events)[2].item_id, "");
}

TEST_F(PostgresDatabaseTest, TheStockFlushAndTheArchiveKeepEachItemsNumbers) {
  const std::string url = fresh_database();
  PostgresDatabase db(url);
  const Sale sale = two_items("multi");
  ASSERT_TRUE(db.record_sale(sale));
  ASSERT_TRUE(db.flush_stock({{"multi", 6}, {flashgate::domain::item_stock_key("multi", "phone"), 1},
                              {flashgate::domain::item_stock_key("multi", "buds"), 5}}));
  const std::string item_sql = "SELECT remaining_db FROM sale_items WHERE sale_id = 'multi' AND item_id = $1";
  EXPECT_EQ(query_one(url, item_sql, {"phone"}), "1");
  EXPECT_EQ(query_one(url, item_sql, {"buds"}), "5");
  const auto live = db.find_sale("multi");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->remaining, 6);
  ASSERT_EQ(live->items.size(), 2u);
  EXPECT_EQ(live->items[0].item.item_id, "phone");
  EXPECT_EQ(live->items[0].remaining, 1);
  EXPECT_EQ(live->items[0].remaining_db, 1);
  EXPECT_EQ(live->items[1].remaining, 5);
  EXPECT_EQ(live->items[1].counts, decltype(live->items[1].counts){});  // final numbers only once archived

  auto numbers = final_numbers(sale, 4, 3, 1, 0);
  numbers.items.resize(2);
  numbers.items[0].item = sale.items[0];
  numbers.items[0].remaining = 0;
  numbers.items[0].counts[static_cast<std::size_t>(OrderStatus::paid)] = 3;
  numbers.items[0].units[static_cast<std::size_t>(OrderStatus::paid)] = 3;
  numbers.items[1].item = sale.items[1];
  numbers.items[1].remaining = 4;
  numbers.items[1].counts[static_cast<std::size_t>(OrderStatus::failed)] = 1;
  numbers.items[1].units[static_cast<std::size_t>(OrderStatus::failed)] = 2;
  ASSERT_TRUE(db.archive_sale(numbers, 9000));
  ASSERT_TRUE(db.flush_stock({{flashgate::domain::item_stock_key("multi", "buds"), 5}}));  // a late flush: no change
  EXPECT_EQ(query_one(url, item_sql, {"buds"}), "4");
  const std::string final_sql =
      "SELECT final_remaining || ' ' || array_to_string(counts, ',') || ' ' || array_to_string(units, ',') "
      "FROM sale_items WHERE sale_id = 'multi' AND item_id = $1";
  // OrderStatus's order: QUEUED PROCESSING CONFIRMED PAID FAILED CANCELLED ENTERED NOT_DRAWN.
  EXPECT_EQ(query_one(url, final_sql, {"phone"}), "0 0,0,0,3,0,0,0,0 0,0,0,3,0,0,0,0");
  EXPECT_EQ(query_one(url, final_sql, {"buds"}), "4 0,0,0,0,1,0,0,0 0,0,0,0,2,0,0,0");
  // Archived again with other numbers: the first stay, as the sale's do.
  numbers.items[1].remaining = 5;
  ASSERT_TRUE(db.archive_sale(numbers, 9500));
  EXPECT_EQ(query_one(url, item_sql, {"buds"}), "4");
  const auto archived = db.find_sale("multi");
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->sale.items.size(), 2u);
  EXPECT_EQ(archived->remaining, 4);
  ASSERT_EQ(archived->items.size(), 2u);
  EXPECT_EQ(archived->items[0].remaining, 0);
  EXPECT_EQ(archived->items[0].units[static_cast<std::size_t>(OrderStatus::paid)], 3u);
  EXPECT_EQ(archived->items[1].remaining, 4);
  EXPECT_EQ(archived->items[1].counts[static_cast<std::size_t>(OrderStatus::failed)], 1u);
  EXPECT_EQ(archived->items[1].units[static_cast<std::size_t>(OrderStatus::failed)], 2u);
  EXPECT_EQ(archived->items[1].units[static_cast<std::size_t>(OrderStatus::paid)], 0u);
}

// An archive whose sale row was never recorded makes its items' rows too.
TEST_F(PostgresDatabaseTest, ArchivingASaleOfSeveralItemsTheFlushNeverRecordedMakesItsItems) {
  const std::string url = fresh_database();
  PostgresDatabase db(url);
  const Sale sale = two_items("late");
  auto numbers = final_numbers(sale, 8, 0, 0, 0);
  for (const auto& item : sale.items) numbers.items.push_back({item, item.stock, std::nullopt, {}, {}});
  ASSERT_TRUE(db.archive_sale(numbers, 7000));
  const auto found = db.find_sale("late");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->sale.items.size(), 2u);
  EXPECT_EQ(found->sale.items[0].item_id, "phone");
  EXPECT_EQ(found->sale.items[1].stock, 5);
  ASSERT_EQ(found->items.size(), 2u);
  EXPECT_EQ(found->items[0].remaining, 3);  // nothing sold: the archive's final numbers say so
  EXPECT_EQ(found->items[1].remaining, 5);
}

}  // namespace
