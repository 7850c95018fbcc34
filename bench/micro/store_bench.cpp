// Intake on the embedded store (MemoryStore journalled into a real
// SqliteDatabase in a temporary directory), split the way the gateway meets it:
//   - the in-memory part alone: a sold-out sale (refused inside the critical
//     section, no journal) and a repeated user (answered from memory);
//   - the full path: a new order, answered once its group-commit
//     transaction is durable (WAL, synchronous=FULL), with 1 or many intakes
//     in flight (many in flight share one fsync: the group commit).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "database/sqlite/sqlite_database.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "store/memory/memory_store.hpp"

namespace {

namespace fs = std::filesystem;
using flashgate::database::SqliteDatabase;
using flashgate::domain::Result;
using flashgate::store::IntakeOutcome;
using flashgate::store::MemoryStore;
using flashgate::store::SaleView;

// A store on a fresh SQLite file, removed afterwards.
class Fixture {
 public:
  Fixture() {
    dir_ = fs::temp_directory_path() /
           ("flashgate-micro-" + std::to_string(::getpid()) + "-" + flashgate::domain::new_order_id());
    fs::create_directories(dir_);
    db_ = std::make_unique<SqliteDatabase>(dir_ / "bench.db");
    store_ = std::make_unique<MemoryStore>(*db_);
    store_->restore(db_->load());
  }
  ~Fixture() {
    store_.reset();
    db_->close();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  MemoryStore& store() { return *store_; }

  bool create_sale(const std::string& sale_id, std::int64_t stock) {
    flashgate::domain::Sale sale;
    sale.sale_id = sale_id;
    sale.item = "Phone 42";
    sale.stock = stock;
    sale.created_at = flashgate::domain::now_ms();
    std::promise<bool> created;
    store_->create_sale(sale, [&created](Result<SaleView> view) { created.set_value(static_cast<bool>(view)); });
    return created.get_future().get();
  }

  // Intakes of these users, all in flight at once (a few group commits); true if all were accepted.
  bool intake_all(const std::string& sale_id, const std::vector<std::string>& user_ids) {
    std::mutex mutex;
    std::condition_variable all_done;
    std::size_t pending = user_ids.size(), accepted = 0;
    for (const auto& user_id : user_ids)
      store_->intake(sale_id, user_id, [&](Result<IntakeOutcome> outcome) {
        std::lock_guard lock(mutex);
        if (outcome && outcome.value().created) ++accepted;
        if (--pending == 0) all_done.notify_one();
      });
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&] { return pending == 0; });
    return accepted == user_ids.size();
  }

 private:
  fs::path dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<MemoryStore> store_;
};

std::vector<std::string> users(std::size_t n, const std::string& prefix) {
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// One fixture for the sold-out benchmark, shared by its threads.
Fixture* shared_fixture = nullptr;

// Sold out: dedupe look-up, stock check, refusal; all under the store's mutex.
void BM_IntakeSoldOut(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_fixture = new Fixture();
    if (!shared_fixture->create_sale("gone", 0)) state.SkipWithError("the sale was not created");
  }
  // The threads' loops start together (a barrier), after thread 0 made the fixture.
  const auto ids = users(4096, "user-t" + std::to_string(state.thread_index()) + "-");
  std::size_t i = 0;
  for (auto _ : state) {
    bool refused = false;
    shared_fixture->store().intake("gone", ids[i++ & 4095], [&refused](Result<IntakeOutcome> outcome) {
      refused = !outcome && outcome.error().code == flashgate::domain::ErrorCode::sold_out;
    });
    if (!refused) {
      state.SkipWithError("not refused as sold out");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  // The loops also end together, so no thread uses the fixture any more.
  if (state.thread_index() == 0) {
    delete shared_fixture;
    shared_fixture = nullptr;
  }
}
BENCHMARK(BM_IntakeSoldOut)->Threads(1)->Threads(2)->UseRealTime();

// A user who already holds an order: answered from memory with its status.
void BM_IntakeRepeatedUser(benchmark::State& state) {
  Fixture fixture;
  if (!fixture.create_sale("held", 1'000'000)) return state.SkipWithError("the sale was not created");
  const auto ids = users(1024, "user-");
  if (!fixture.intake_all("held", ids)) return state.SkipWithError("a first intake failed");
  std::size_t i = 0;
  for (auto _ : state) {
    bool existing = false;
    fixture.store().intake("held", ids[i++ & 1023], [&existing](Result<IntakeOutcome> outcome) {
      existing = outcome && !outcome.value().created;
    });
    if (!existing) {
      state.SkipWithError("not answered as the existing order");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IntakeRepeatedUser);

// The full path: a new order reserved in memory, journalled, committed
// (fsync), then answered. range(0) intakes are in flight at once; each
// iteration waits for all of them.
void BM_IntakeDurable(benchmark::State& state) {
  Fixture fixture;
  if (!fixture.create_sale("open", 1'000'000'000)) return state.SkipWithError("the sale was not created");
  const auto in_flight = static_cast<std::size_t>(state.range(0));
  std::mutex mutex;
  std::condition_variable all_done;
  std::size_t next_user = 0;
  std::size_t failures = 0;
  for (auto _ : state) {
    std::size_t pending = in_flight;
    for (std::size_t k = 0; k < in_flight; ++k) {
      fixture.store().intake("open", "user-" + std::to_string(next_user++), [&](Result<IntakeOutcome> outcome) {
        std::lock_guard lock(mutex);
        if (!outcome || !outcome.value().created) ++failures;
        if (--pending == 0) all_done.notify_one();
      });
    }
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&] { return pending == 0; });
  }
  if (failures) state.SkipWithError("some intakes were not accepted");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(in_flight));
}
BENCHMARK(BM_IntakeDurable)->Arg(1)->Arg(64)->Arg(512)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
