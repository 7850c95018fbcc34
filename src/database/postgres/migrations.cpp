#include "database/postgres/migrations.hpp"

#include <spdlog/spdlog.h>

#include <set>
#include <stdexcept>
#include <string_view>

#include "database/postgres/connection_pool.hpp"

namespace flashgate::database::postgres {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Append only: a released migration is never edited, a change is a new version.
constexpr Migration migrations[] = {
    {1, R"sql(
CREATE TABLE sales (
  sale_id      text PRIMARY KEY,
  item         text NOT NULL,
  stock        bigint NOT NULL,
  starts_at    bigint,
  ends_at      bigint,
  created_at   bigint NOT NULL,
  remaining_db bigint
);
CREATE TABLE orders (
  order_id   text PRIMARY KEY,
  sale_id    text NOT NULL,
  user_id    text NOT NULL,
  status     text NOT NULL,
  payment_id text NOT NULL DEFAULT '',
  reason     text NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
)sql"},
    // The shop's own id of the order (--order-sink), '' when it said none.
    {2, R"sql(
ALTER TABLE orders ADD COLUMN external_id text NOT NULL DEFAULT '';
)sql"},
    {3, R"sql(
-- Outcomes on their way to the shop's event sink (--event-sink), written in
-- the same statement as the order row's status; deleted once delivered.
CREATE TABLE event_outbox (
  id          bigserial PRIMARY KEY,
  order_id    text NOT NULL,
  sale_id     text NOT NULL,
  user_id     text NOT NULL,
  status      text NOT NULL,
  version     bigint NOT NULL,
  reason      text NOT NULL DEFAULT '',
  external_id text NOT NULL DEFAULT '',
  at          bigint NOT NULL
);
)sql"},
    {4, R"sql(
-- The sale's life cycle: when the archiver first saw it settled, when it was
-- archived, and its final numbers (NULL while live), as in SQLite's sales.
ALTER TABLE sales ADD COLUMN settled_since bigint;
ALTER TABLE sales ADD COLUMN archived_at bigint;
ALTER TABLE sales ADD COLUMN final_remaining bigint;
ALTER TABLE sales ADD COLUMN count_queued bigint;
ALTER TABLE sales ADD COLUMN count_processing bigint;
ALTER TABLE sales ADD COLUMN count_confirmed bigint;
ALTER TABLE sales ADD COLUMN count_paid bigint;
ALTER TABLE sales ADD COLUMN count_failed bigint;
ALTER TABLE sales ADD COLUMN count_cancelled bigint;
-- The ids of archived sales are read at every start of a gateway. (The
-- archiver's index of orders by sale is built after the migrations, without
-- a transaction: see concurrent_indexes.)
CREATE INDEX sales_archived ON sales (sale_id) WHERE archived_at IS NOT NULL;
)sql"},
    {5, R"sql(
-- Quantities (issue #26): the units an order is for, and how many units one
-- buyer may hold in a sale. Rows of before are single-unit sales and orders.
ALTER TABLE sales ADD COLUMN max_per_buyer bigint NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN quantity bigint NOT NULL DEFAULT 1;
)sql"},
    {6, R"sql(
-- The event sink tells the units of the order with each of its events, and
-- an archived sale keeps its final units by status beside its counts (NULL
-- for sales archived before: every order was one unit).
ALTER TABLE event_outbox ADD COLUMN quantity bigint NOT NULL DEFAULT 1;
ALTER TABLE sales ADD COLUMN units_queued bigint, ADD COLUMN units_processing bigint,
  ADD COLUMN units_confirmed bigint, ADD COLUMN units_paid bigint, ADD COLUMN units_failed bigint,
  ADD COLUMN units_cancelled bigint;
)sql"},
    {7, R"sql(
-- The draw's statuses (issue #26): an archived draw sale's ENTERED and
-- NOT_DRAWN orders and their units, as the other statuses'.
ALTER TABLE sales ADD COLUMN count_entered bigint, ADD COLUMN count_not_drawn bigint,
  ADD COLUMN units_entered bigint, ADD COLUMN units_not_drawn bigint;
)sql"},
    {8, R"sql(
-- Buckets (issue #25): how many buckets a sale's stock is kept in, in Redis.
-- Rows of before are sales of one bucket.
ALTER TABLE sales ADD COLUMN buckets bigint NOT NULL DEFAULT 1;
)sql"},
    {9, R"sql(
-- The draws of draw sales under Redis (issue #26), as SQLite keeps them: the
-- seed before any result, then every entrant with its position (NULL: not
-- drawn), so the draw can be audited from the database.
CREATE TABLE draws (
  sale_id   text PRIMARY KEY,
  seed      text NOT NULL,
  seeded_at bigint NOT NULL,
  entrants  bigint NOT NULL,
  drawn_at  bigint,
  admitted  bigint,
  units     bigint
);
CREATE TABLE draw_entrants (
  sale_id    text NOT NULL,
  order_id   text NOT NULL,
  user_id    text NOT NULL,
  quantity   bigint NOT NULL,
  entered_at bigint NOT NULL,
  position   bigint,
  PRIMARY KEY (sale_id, order_id)
);
)sql"},
    {10, R"sql(
-- Sales of several items (issue #26): each item's stock, limit and place in
-- its sale, its remaining as last flushed, and once its sale is archived its
-- final remaining and its orders and units by status (arrays in OrderStatus's
-- order). Orders and events say their item ('' in a sale of one item).
CREATE TABLE sale_items (
  sale_id         text NOT NULL,
  item_id         text NOT NULL,
  name            text NOT NULL,
  stock           bigint NOT NULL,
  max_per_buyer   bigint NOT NULL DEFAULT 1,
  remaining_db    bigint,
  position        int NOT NULL,
  final_remaining bigint,
  counts          bigint[],
  units           bigint[],
  PRIMARY KEY (sale_id, item_id)
);
ALTER TABLE orders ADD COLUMN item_id text NOT NULL DEFAULT '';
ALTER TABLE event_outbox ADD COLUMN item_id text NOT NULL DEFAULT '';
)sql"},
};

// Indexes of tables that may be big when a new version first meets them
// (orders: every order of every sale). A plain CREATE INDEX in a migration
// would block every write to the table for as long as it builds;
// CONCURRENTLY lets writes go on, but cannot run in a transaction, so these
// are built after the migrations' one, at every start while one is missing,
// by the one process that holds the build lock. A build that stopped
// halfway (a crash, a cancel) leaves the index INVALID: it is dropped and
// built again.
struct ConcurrentIndex {
  const char* name;
  const char* create_sql;
};
constexpr ConcurrentIndex concurrent_indexes[] = {
    // The archiver counts a sale's orders per status before archiving it.
    {"orders_sale_id_status", "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_sale_id_status ON orders (sale_id, status)"},
};

// Any key works as long as every flashgate uses the same one: "flashgat" in ASCII.
// The _xact_ lock is released by COMMIT or ROLLBACK, even if we crash.
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(7380381037654139252)";
// A process that holds the lock and hangs fails our start-up instead of stalling it.
constexpr const char* lock_wait_sql = "SET LOCAL lock_timeout = '60s'";
constexpr const char* create_ledger_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* applied_sql = "SELECT version FROM schema_migrations";
// The builds' own lock, for the session, not the migrations': a build waits
// for every transaction older than itself to end, so one that held the
// migration lock would wait for a start-up blocked on it (a deadlock).
constexpr const char* try_build_lock_sql = "SELECT pg_try_advisory_lock(7380381037654139253)";
constexpr const char* build_unlock_sql = "SELECT pg_advisory_unlock(7380381037654139253)";
// 't' valid, 'f' invalid, no row: absent.
constexpr const char* index_valid_sql = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)";
constexpr const char* record_sql = "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::int, now())";

[[noreturn]] void fail(PGconn* conn, const std::string& describe, const std::string& what) {
  const std::string message = error_message(conn, nullptr);
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) PQclear(PQexec(conn, "ROLLBACK"));
  throw std::runtime_error("postgres " + describe + ": " + what + ": " + message);
}

void exec(PGconn* conn, const char* sql, ExecStatusType expected, const std::string& describe, const char* what) {
  Result result(PQexec(conn, sql));
  if (PQresultStatus(result.get()) != expected) fail(conn, describe, what);
}

enum class IndexState { valid, invalid, absent, unknown };

IndexState index_state(PGconn* conn, const char* name) {
  const char* params[] = {name};
  Result result(PQexecParams(conn, index_valid_sql, 1, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) return IndexState::unknown;
  if (PQntuples(result.get()) == 0) return IndexState::absent;
  return std::string_view(PQgetvalue(result.get(), 0, 0)) == "t" ? IndexState::valid : IndexState::invalid;
}

bool run_statement(PGconn* conn, const std::string& describe, const std::string& sql) {
  Result result(PQexec(conn, sql.c_str()));
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK || PQresultStatus(result.get()) == PGRES_TUPLES_OK) return true;
  spdlog::warn("postgres {}: {}: {}", describe, sql, error_message(conn, result.get()));
  return false;
}

// Not fatal when it fails: an index missing makes the archiver's counts slow, not wrong; the next start tries again.
void build_concurrent_indexes(PGconn* conn, const std::string& describe) {
  const auto missing = [&] {
    for (const auto& index : concurrent_indexes)
      if (index_state(conn, index.name) != IndexState::valid) return true;
    return false;
  };
  if (!missing()) return;
  // Not waited for: the process holding it is building them, and this one
  // starts meanwhile (the index is for speed only).
  Result locked(PQexec(conn, try_build_lock_sql));
  if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK || std::string_view(PQgetvalue(locked.get(), 0, 0)) != "t") {
    spdlog::info("postgres {}: another process is building indexes; starting without waiting", describe);
    return;
  }
  for (const auto& index : concurrent_indexes) {
    const auto state = index_state(conn, index.name);
    if (state == IndexState::valid) continue;
    if (state == IndexState::invalid) {
      spdlog::warn("postgres {}: index {} is INVALID (a build stopped halfway): building it again", describe,
                   index.name);
      if (!run_statement(conn, describe, std::string("DROP INDEX CONCURRENTLY IF EXISTS ") + index.name)) continue;
    }
    spdlog::info("postgres {}: building index {} (writes go on meanwhile)", describe, index.name);
    if (run_statement(conn, describe, index.create_sql))
      spdlog::info("postgres {}: index {} built", describe, index.name);
  }
  run_statement(conn, describe, build_unlock_sql);
}

}  // namespace

int latest_schema_version() { return migrations[std::size(migrations) - 1].version; }

void run_migrations(PGconn* conn, const std::string& describe) {
  exec(conn, "BEGIN", PGRES_COMMAND_OK, describe, "cannot begin the migration");
  exec(conn, lock_wait_sql, PGRES_COMMAND_OK, describe, "cannot bound the lock wait");
  exec(conn, lock_sql, PGRES_TUPLES_OK, describe, "cannot take the migration lock");
  exec(conn, create_ledger_sql, PGRES_COMMAND_OK, describe, "cannot create schema_migrations");

  Result applied_result(PQexec(conn, applied_sql));
  if (PQresultStatus(applied_result.get()) != PGRES_TUPLES_OK) fail(conn, describe, "cannot read schema_migrations");
  std::set<int> applied;
  for (int row = 0; row < PQntuples(applied_result.get()); ++row)
    applied.insert(std::stoi(PQgetvalue(applied_result.get(), row, 0)));

  int newest = 0;
  for (const auto& migration : migrations) {
    if (applied.contains(migration.version)) continue;
    exec(conn, migration.sql, PGRES_COMMAND_OK, describe,
         ("migration " + std::to_string(migration.version) + " failed").c_str());
    const std::string version = std::to_string(migration.version);
    const char* params[] = {version.c_str()};
    Result recorded(PQexecParams(conn, record_sql, 1, nullptr, params, nullptr, nullptr, 0));
    if (PQresultStatus(recorded.get()) != PGRES_COMMAND_OK) fail(conn, describe, "cannot record migration " + version);
    newest = migration.version;
  }
  exec(conn, "COMMIT", PGRES_COMMAND_OK, describe, "cannot commit the migration");
  build_concurrent_indexes(conn, describe);

  if (newest > 0) spdlog::info("postgres {}: schema migrated to version {}", describe, newest);
  if (!applied.empty() && *applied.rbegin() > latest_schema_version())
    spdlog::warn("postgres {}: schema version {} is newer than this build knows ({})", describe, *applied.rbegin(),
                 latest_schema_version());
}

}  // namespace flashgate::database::postgres
