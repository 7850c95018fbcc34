#include "app/backends.hpp"

#include <spdlog/spdlog.h>

#include <future>
#include <stdexcept>

#include "app/backend_gauges.hpp"
#include "app/redis_store_options.hpp"
#include "database/postgres/postgres_database.hpp"
#include "database/sqlite/sqlite_database.hpp"
#include "store/memory/memory_store.hpp"
#include "store/redis/redis_draws.hpp"
#include "store/redis/redis_store.hpp"

namespace flashgate::app {

Backends::Backends() = default;
Backends::Backends(Backends&&) noexcept = default;
Backends& Backends::operator=(Backends&&) noexcept = default;
Backends::~Backends() = default;

void Backends::start() {
  if (redis_) redis_->follow_changes();
}

void Backends::drain_intakes() {
  if (!sqlite_) return;
  std::promise<void> drained;
  sqlite_->barrier([&drained](bool) { drained.set_value(); });
  drained.get_future().wait();
}

void Backends::close() {
  if (gauges_) gauges_->stop();
  if (redis_) redis_->stop();
  if (sqlite_) sqlite_->close();
}

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
    b.sqlite_ = std::make_unique<database::SqliteDatabase>(
        sqlite_url ? url.substr(7) : config.data_dir + "/flashgate.db", sqlite_commit_histograms(metrics),
        database::SqliteFeatures{.event_outbox = events && memory, .order_rows_from_journal = memory && sqlite_url});
    add_sqlite_gauges(*b.sqlite_, metrics);
  }
  if (postgres_url && (memory || config.role != "gateway")) {
    b.postgres_ = std::make_unique<database::PostgresDatabase>(
        url, static_cast<std::size_t>(config.db_pool), database::PostgresDatabase::default_acquire_timeout,
        events && !memory);
  } else if (postgres_url) {
    // A Redis gateway takes no order through the database; it reads it only
    // for archived sales (the ids at start, their numbers and stats) and runs
    // the admin archive call. Without it those answer 503 and the rest works.
    try {
      b.postgres_ = std::make_unique<database::PostgresDatabase>(url, 2);
    } catch (const std::exception& e) {
      spdlog::warn("{}; this gateway answers requests about archived sales with 503", e.what());
    }
  }
  if (auto* postgres = b.postgres_.get()) {
    b.database = postgres;
    // Outcomes reach PostgreSQL in the background (the outcome mirror): a
    // sale is archived only once every final status is there.
    b.outcomes_mirrored = true;
    b.outcomes_recorded = [postgres](const store::SaleView& view) { return postgres->holds_final_orders(view); };
  } else {
    b.database = b.sqlite_.get();
  }
  if (events) b.event_outbox = memory ? static_cast<database::EventOutbox*>(b.sqlite_.get()) : b.postgres_.get();

  if (memory) {
    auto store = std::make_unique<store::MemoryStore>(*b.sqlite_);
    store->restore(b.sqlite_->load());
    b.draws = store.get();
    b.gauges_ = add_memory_store_gauges(*store, metrics);
    b.store_ = std::move(store);
  } else {
    auto store = std::make_unique<store::redis::RedisStore>(redis_store_options(config));
    b.redis_ = store.get();
    // Any worker may draw (RedisDraws: the first seed stays, applying is a compare-and-set);
    // PostgreSQL keeps the seed and the result for the audit.
    if (b.postgres_) {
      b.redis_draws_ = std::make_unique<store::redis::RedisDraws>(store->link(), *b.postgres_);
      b.draws = b.redis_draws_.get();
    }
    b.outcome_log = store.get();
    b.queue_reclaim = store.get();
    // Workers share the Redis store: they take turns on PostgreSQL's locks.
    b.locks = b.postgres_.get();
    b.gauges_ = add_redis_store_gauges(*store, metrics);
    b.store_ = std::move(store);
  }
  return b;
}

}  // namespace flashgate::app
