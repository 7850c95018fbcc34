#include "app/backends.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>

#include "database/postgres/postgres_database.hpp"
#include "store/memory/memory_store.hpp"

namespace flashgate::app {
namespace {

store::redis::RedisStoreOptions redis_options(const Config& config) {
  constexpr std::string_view scheme = "redis://";
  std::string_view rest(config.store);
  if (rest.substr(0, scheme.size()) != scheme) throw std::runtime_error("store must be memory or redis://HOST:PORT");
  rest.remove_prefix(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  store::redis::RedisStoreOptions options;
  const auto colon = rest.rfind(':');
  options.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    unsigned port = 0;
    const auto text = rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc{} || end != text.data() + text.size() || port == 0 || port > 65535)
      throw std::runtime_error("store: redis://HOST:PORT has a bad port");
    options.port = static_cast<std::uint16_t>(port);
  }
  if (options.host.empty()) options.host = "127.0.0.1";
  options.reclaim_after = std::chrono::milliseconds(config.reclaim_after_ms);
  options.near_cache_orders = static_cast<std::size_t>(config.near_cache_orders);
  return options;
}

}  // namespace

void Backends::close() {
  if (redis) redis->stop();
  if (sqlite) sqlite->close();
}

namespace {

// The commit histograms are observed by the writer thread from its first
// transaction on, so they exist before the database is opened.
database::SqliteDatabase::CommitObserver commit_histograms(metrics::Registry& metrics) {
  auto& batch = metrics.histogram("flashgate_db_commit_jobs", "Writes per group-commit transaction", "",
                                  {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096});
  auto& commit = metrics.histogram("flashgate_db_commit_seconds", "Time of a group-commit transaction, fsync included",
                                   "", {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2});
  return [&batch, &commit](std::size_t jobs, double seconds) {
    batch.observe(static_cast<double>(jobs));
    commit.observe(seconds);
  };
}

void add_sqlite_gauges(metrics::Registry& metrics, database::SqliteDatabase* sqlite) {
  metrics.gauge("flashgate_db_transactions", "Group-commit transactions written",
                [sqlite] { return static_cast<double>(sqlite->transactions_committed()); });
  metrics.gauge("flashgate_db_jobs", "Writes committed in group-commit transactions",
                [sqlite] { return static_cast<double>(sqlite->jobs_committed()); });
  metrics.gauge("flashgate_db_write_failures", "Group-commit transactions that failed",
                [sqlite] { return static_cast<double>(sqlite->write_failures()); });
}

// Counters the gateway keeps in memory: read at the scrape, no Redis call.
void add_redis_gauges(metrics::Registry& metrics, store::redis::RedisStore* redis) {
  metrics.gauge("flashgate_near_cache_hits", "Polls answered from the gateway's memory",
                [redis] { return static_cast<double>(redis->near_cache().hits()); });
  metrics.gauge("flashgate_near_cache_misses", "Polls that had to read the store",
                [redis] { return static_cast<double>(redis->near_cache().misses()); });
  metrics.gauge("flashgate_intake_sold_out_from_memory", "Buyers a gateway told sold out without asking Redis",
                [redis] { return static_cast<double>(redis->sold_out_book().answered()); });
  metrics.gauge("flashgate_near_cache_orders", "Status objects held by the near-cache",
                [redis] { return static_cast<double>(redis->near_cache().size()); });
}

}  // namespace

Backends open_backends(const Config& config, metrics::Registry& metrics) {
  Backends b;
  const std::string url = config.database_url();
  const bool sqlite_url = url.rfind("sqlite:", 0) == 0;
  const bool postgres_url = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!sqlite_url && !postgres_url) throw std::runtime_error("database must be sqlite:PATH or postgresql://...");
  const bool memory = config.store == "memory";
  const bool events = !config.event_sink.empty();
  // The outbox is written where the outcome itself is: the memory store's
  // journal, or with Redis the PostgreSQL row its outcome log is mirrored to.
  if (events && !memory && !postgres_url)
    throw std::runtime_error("event_sink with the Redis store needs a postgresql:// database (its outbox lives there)");

  // The memory store journals into SQLite: the database's file, or one in the data dir.
  if (sqlite_url || memory) {
    b.sqlite = std::make_unique<database::SqliteDatabase>(
        sqlite_url ? url.substr(7) : config.data_dir + "/flashgate.db", commit_histograms(metrics),
        database::SqliteFeatures{.event_outbox = events && memory, .order_rows_from_journal = memory && sqlite_url});
    add_sqlite_gauges(metrics, b.sqlite.get());
  }
  if (postgres_url && (memory || config.role != "gateway")) {
    auto postgres = std::make_unique<database::PostgresDatabase>(
        url, static_cast<std::size_t>(config.db_pool), database::PostgresDatabase::default_acquire_timeout,
        events && !memory);
    b.postgres = postgres.get();
    b.remote_database = std::move(postgres);
  } else if (postgres_url) {
    // A Redis gateway takes no order through the database; it reads it only
    // for archived sales (the ids at start, their numbers and stats) and runs
    // the admin archive call. Without it those answer 503 and the rest works.
    try {
      auto postgres = std::make_unique<database::PostgresDatabase>(url, 2);
      b.postgres = postgres.get();
      b.remote_database = std::move(postgres);
    } catch (const std::exception& e) {
      spdlog::warn("{}; this gateway answers requests about archived sales with 503", e.what());
    }
  }
  b.database = b.remote_database ? b.remote_database.get() : b.sqlite.get();
  if (events) b.event_outbox = memory ? static_cast<database::EventOutbox*>(b.sqlite.get()) : b.postgres;

  if (memory) {
    auto store = std::make_unique<store::MemoryStore>(*b.sqlite);
    store->restore(b.sqlite->load());
    b.store = std::move(store);
  } else {
    auto store = std::make_unique<store::redis::RedisStore>(redis_options(config));
    b.redis = store.get();
    b.store = std::move(store);
    add_redis_gauges(metrics, b.redis);
  }
  return b;
}

}  // namespace flashgate::app
