#pragma once
// Opens the Store and the OrderDatabase a Config names: memory + SQLite (the
// embedded default), Redis + PostgreSQL (distributed), or a mix.
#include <memory>

#include "app/config.hpp"
#include "database/order_database.hpp"
#include "database/postgres/postgres_database.hpp"
#include "database/sqlite/sqlite_database.hpp"
#include "metrics/registry.hpp"
#include "store/redis/redis_store.hpp"
#include "store/store.hpp"

namespace flashgate::app {

struct Backends {
  std::unique_ptr<database::SqliteDatabase> sqlite;            // the memory store's journal, when there is one
  std::unique_ptr<database::OrderDatabase> remote_database;    // PostgreSQL
  database::OrderDatabase* database = nullptr;                 // the system of record; null in a Redis gateway
  database::PostgresDatabase* postgres = nullptr;              // remote_database, when there is one
  // With event_sink: where outcomes wait for it (the memory store's journal,
  // or PostgreSQL under Redis); null without an event sink or in a gateway.
  database::EventOutbox* event_outbox = nullptr;
  std::unique_ptr<store::Store> store;
  store::redis::RedisStore* redis = nullptr;

  // Joins every thread the backends run (the Redis store's change feed and
  // I/O, the journal's writer after what is queued): afterwards no store
  // listener or callback runs. The last step of a shutdown, before anything
  // a listener captured is destroyed.
  void close();
};

// Throws std::runtime_error with a message fit for the operator (no secrets).
// Each backend registers its own gauges in `metrics`, which must outlive it.
Backends open_backends(const Config& config, metrics::Registry& metrics);

}  // namespace flashgate::app
