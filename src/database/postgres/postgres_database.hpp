#pragma once
// The distributed system of record: PostgreSQL through libpq, shared by any
// number of worker processes. Every write is idempotent (keyed by order_id
// or sale_id), so a call that fails midway can simply be made again; a call
// returns false instead of throwing when the database cannot be reached, and
// the caller (the windows, the flusher) retries.
#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "database/deployment_locks.hpp"
#include "database/event_outbox.hpp"
#include "database/order_database.hpp"
#include "database/postgres/connection_pool.hpp"
#include "store/sale_draws.hpp"

namespace flashgate::database {

class PostgresDatabase final : public OrderDatabase, public EventOutbox, public DeploymentLocks, public store::DrawLog {
 public:
  static constexpr std::size_t default_pool_size = 4;
  static constexpr std::chrono::milliseconds default_acquire_timeout{5000};

  // `url` is a libpq URI or conninfo (postgresql://user:pass@host:port/db).
  // Runs the migrations on a connection of its own and throws if the
  // database cannot be reached or migrated (a start-up failure); the pool's
  // connections open on first use.
  // event_outbox: create_order (CONFIRMED) and record_outcome (PAID,
  // CANCELLED, FAILED) also queue the outcome for the event sink, in the
  // same statement, when they change the order row.
  explicit PostgresDatabase(const std::string& url, std::size_t pool_size = default_pool_size,
                            std::chrono::milliseconds acquire_timeout = default_acquire_timeout,
                            bool event_outbox = false);
  ~PostgresDatabase() override;

  bool create_order(const domain::Order& order) override;
  bool flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) override;
  // 0 when the database cannot be read (logged).
  std::uint64_t count_orders() override;
  bool record_sale(const domain::Sale& sale) override;
  // PAID, CANCELLED and FAILED only; any other status has nothing to record (true).
  bool record_outcome(const domain::Order& order) override;
  // In one transaction: one commit (one WAL flush) for the lot, where a call
  // each waited for one flush each. Per order the same statement as
  // record_outcome, so the first final status sticks and the outbox gets an
  // event only when the row changed, also for two outcomes of one order in
  // the same batch.
  bool record_outcomes(const std::vector<domain::Order>& orders) override;
  std::optional<std::string> sale_of_order(const std::string& order_id) override;
  bool archive_sale(const store::SaleView& final_numbers, domain::TimeMs at) override;
  // False also when the sale has no row yet or is archived (nothing written).
  bool mark_settled(const std::string& sale_id, std::optional<domain::TimeMs> since) override;
  // find_sale, list_sales and archived_sale_ids answer nothing when the database cannot be read (logged).
  std::optional<SaleRecord> find_sale(const std::string& sale_id) override;
  std::vector<SaleRecord> list_sales(const std::string& after_sale_id, std::size_t limit) override;
  std::vector<std::string> archived_sale_ids() override;
  // The sale's order rows per status (only CONFIRMED and final statuses ever
  // have one here); nullopt if the database cannot be read.
  std::optional<std::array<std::uint64_t, domain::all_statuses.size()>> order_counts(const std::string& sale_id);
  // Step 1 of an archive behind a store whose outcomes reach this database in
  // the background (OutcomeMirror): true once the sale's rows are, per final
  // status, as many as the store counts, and none is still CONFIRMED here.
  bool holds_final_orders(const store::SaleView& view);

  // DrawLog: the draws of a Redis store's draw sales.
  std::optional<std::string> record_draw_seed(const std::string& sale_id, const std::string& seed_hex,
                                              domain::TimeMs seeded_at, std::size_t entrants) override;
  bool record_draw_result(const std::string& sale_id, domain::TimeMs drawn_at,
                          std::span<const domain::DrawEntrant> entrants, const domain::DrawResult& result) override;

  // EventOutbox
  std::optional<std::vector<OutboxEvent>> take(std::size_t limit) override;
  bool delivered(const std::vector<std::int64_t>& ids) override;
  std::optional<std::uint64_t> depth() override;

  // True while this process holds the event delivery lock: a session
  // advisory lock on a connection of its own, so exactly one worker of the
  // deployment delivers, and a dead worker's lock goes with its connection.
  // Called by the delivery loop before each round.
  bool hold_delivery_lock() override;
  // The same for the archiver's periodic round: one worker of the deployment runs it.
  bool hold_archive_lock() override;
  // The archive lock proper, taken around each archive (the store's keys
  // removed, the database's row written) by whichever process archives: the
  // worker whose round it is, or a gateway's admin call. The round's
  // leadership above is held for as long as the worker lives, so it cannot be
  // what an admin call waits for. True once taken, within `wait` (tried again
  // every 50 ms); release it with unlock_archive. Not reentrant: callers take
  // turns (the Archiver's mutex).
  bool lock_archive(std::chrono::milliseconds wait) override;
  void unlock_archive() override;

  // host:port/dbname: what logs may say about this database (never the password).
  const std::string& describe() const { return pool_.settings().describe(); }

 private:
  // Runs `work` on a pooled connection; after a lost connection, once more on
  // a fresh one (safe: every statement here is idempotent).
  template <class Work>
  bool run(const char* what, Work&& work);

  // A session advisory lock, held by a connection of its own while it lives.
  struct SessionLock {
    SessionLock(const char* lock_name, const char* lock_sql) : name(lock_name), sql(lock_sql) {}
    const char* name;
    const char* sql;  // pg_try_advisory_lock of the lock's key
    std::mutex mutex;
    PGconn* connection = nullptr;
    bool held = false;
  };
  bool hold(SessionLock& lock);

  postgres::ConnectionPool pool_;
  const bool event_outbox_;
  // Any key works as long as every flashgate uses the same one.
  SessionLock delivery_lock_{"event delivery", "SELECT pg_try_advisory_lock(7378707745727655539)"};
  SessionLock archive_lock_{"archiver", "SELECT pg_try_advisory_lock(7378973658391800182)"};  // "fgarchiv"
  SessionLock archiving_lock_{"archive", "SELECT pg_try_advisory_lock(7378973658391800193)"};
};

}  // namespace flashgate::database
