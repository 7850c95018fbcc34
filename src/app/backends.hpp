#pragma once
// Opens the Store and the OrderDatabase a Config names: memory + SQLite (the
// embedded default), Redis + PostgreSQL (distributed), or a mix. The rest of
// the process gets interfaces only: the store's three sides, the order
// database, the outbox, the outcome log, the queue's upkeep, the
// deployment's locks; which backend stands behind them stays here.
#include <functional>
#include <memory>

#include "app/config.hpp"
#include "app/store_gauges.hpp"
#include "database/deployment_locks.hpp"
#include "database/event_outbox.hpp"
#include "database/order_database.hpp"
#include "metrics/registry.hpp"
#include "store/outcome_log.hpp"
#include "store/queue_reclaim.hpp"
#include "store/sale_draws.hpp"
#include "store/store.hpp"

namespace flashgate::database {
class SqliteDatabase;
class PostgresDatabase;
}  // namespace flashgate::database
namespace flashgate::store::redis {
class RedisStore;
}  // namespace flashgate::store::redis

namespace flashgate::app {

class Backends {
 public:
  Backends();
  Backends(Backends&&) noexcept;
  Backends& operator=(Backends&&) noexcept;
  ~Backends();

  // Its three sides, each for the part that calls it (store/store.hpp).
  store::Store& store() { return *store_; }
  // The system of record; null in a Redis gateway.
  database::OrderDatabase* database = nullptr;
  // True where final outcomes reach the database in the background (the
  // outcome mirror): PostgreSQL. False: the store's journal is the database.
  bool outcomes_mirrored = false;
  // Where outcomes are mirrored: whether the database holds a sale's final
  // orders yet (the archiver's step 1); empty: it always does.
  std::function<bool(const store::SaleView&)> outcomes_recorded;
  // With event_sink: where outcomes wait for it (the memory store's journal,
  // or PostgreSQL under Redis); null without an event sink or in a gateway.
  database::EventOutbox* event_outbox = nullptr;
  // The store's own outcome log (Redis); null: outcomes are heard from on_change.
  store::OutcomeLog* outcome_log = nullptr;
  // A queue several processes share (Redis); null: one process takes from it.
  store::QueueReclaim* queue_reclaim = nullptr;
  // The draws of draw sales (the memory store, or Redis with PostgreSQL for
  // the seeds and results); null: this process draws nothing.
  store::SaleDraws* draws = nullptr;
  // Where several processes share the store and a database that can lock;
  // null: this process owns its store and takes turns with no one.
  database::DeploymentLocks* locks = nullptr;
  // The store's gauges, registered by its backend (app/*_gauges.cpp).
  StoreGauges& gauges() { return *gauges_; }

  // Once every listener is in place: a Redis store starts following its change feed.
  void start();
  // Returns once every intake in flight has its answer (the memory store's
  // journal drained); at once where nothing is drained (Redis).
  void drain_intakes();
  // Joins every thread the backends run (the gauges' timer, the Redis
  // store's change feed and I/O, the journal's writer after what is
  // queued): afterwards no store listener or callback runs. The last step
  // of a shutdown, before anything a listener captured is destroyed.
  void close();

 private:
  friend Backends open_backends(const Config& config, metrics::Registry& metrics);
  // Declared in the order they are opened; destroyed in reverse.
  std::unique_ptr<database::SqliteDatabase> sqlite_;      // the memory store's journal, when there is one
  std::unique_ptr<database::PostgresDatabase> postgres_;  // the system of record of a distributed deployment
  std::unique_ptr<store::Store> store_;
  store::redis::RedisStore* redis_ = nullptr;  // store_, when it is Redis
  std::unique_ptr<store::SaleDraws> redis_draws_;  // draws, when the store is Redis and PostgreSQL keeps the draws
  std::unique_ptr<StoreGauges> gauges_;
};

// Throws std::runtime_error with a message fit for the operator (no secrets).
// Each backend registers its own gauges in `metrics`, which must outlive it.
Backends open_backends(const Config& config, metrics::Registry& metrics);

}  // namespace flashgate::app
