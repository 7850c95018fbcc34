#include "database/sqlite/sqlite_database.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <stdexcept>

#include "platform/thread_name.hpp"

namespace flashgate::database {
namespace {

constexpr const char* schema_sql = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS sales (
  sale_id      TEXT PRIMARY KEY,
  item         TEXT NOT NULL,
  stock        INTEGER NOT NULL,
  starts_at    INTEGER,
  ends_at      INTEGER,
  created_at   INTEGER NOT NULL,
  remaining_db INTEGER,
  max_per_buyer INTEGER NOT NULL DEFAULT 1,
  buckets      INTEGER NOT NULL DEFAULT 1,
  -- The sale's life cycle (see domain/sale_lifecycle.hpp): when the archiver
  -- first saw it settled, and once archived, when and its final numbers.
  settled_since    INTEGER,
  archived_at      INTEGER,
  final_remaining  INTEGER,
  count_queued     INTEGER NOT NULL DEFAULT 0,
  count_processing INTEGER NOT NULL DEFAULT 0,
  count_confirmed  INTEGER NOT NULL DEFAULT 0,
  count_paid       INTEGER NOT NULL DEFAULT 0,
  count_failed     INTEGER NOT NULL DEFAULT 0,
  count_cancelled  INTEGER NOT NULL DEFAULT 0,
  units_queued     INTEGER,
  units_processing INTEGER,
  units_confirmed  INTEGER,
  units_paid       INTEGER,
  units_failed     INTEGER,
  units_cancelled  INTEGER,
  count_entered    INTEGER NOT NULL DEFAULT 0,
  count_not_drawn  INTEGER NOT NULL DEFAULT 0,
  units_entered    INTEGER,
  units_not_drawn  INTEGER,
  admission        TEXT NOT NULL DEFAULT 'first_come',
  draw_window_ms   INTEGER NOT NULL DEFAULT 0,
  prequeue_ms      INTEGER NOT NULL DEFAULT 0
);
-- A draw sale's draw (issue #26): the seed is written first, when entry
-- closes; drawn_at and the numbers with the result, in one transaction with
-- every entrant's new status and its row in draw_entrants (the audit's input:
-- docs/architecture.md "The draw").
CREATE TABLE IF NOT EXISTS draws (
  sale_id   TEXT PRIMARY KEY,
  seed      TEXT NOT NULL,
  seeded_at INTEGER NOT NULL,
  entrants  INTEGER NOT NULL,
  drawn_at  INTEGER,
  admitted  INTEGER,
  units     INTEGER
);
CREATE TABLE IF NOT EXISTS draw_entrants (
  sale_id    TEXT NOT NULL,
  order_id   TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  quantity   INTEGER NOT NULL,
  entered_at INTEGER NOT NULL,
  position   INTEGER,
  PRIMARY KEY (sale_id, order_id)
);
-- The memory store's journal: every accepted order, at its latest version.
CREATE TABLE IF NOT EXISTS intakes (
  order_id   TEXT PRIMARY KEY,
  sale_id    TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  status     TEXT NOT NULL,
  version    INTEGER NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  payment_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  external_id TEXT NOT NULL DEFAULT '',
  quantity   INTEGER NOT NULL DEFAULT 1,
  request_id TEXT NOT NULL DEFAULT '',
  item_id    TEXT NOT NULL DEFAULT ''
);
-- A start-up reads the intakes of live sales only, through this, never the
-- rows of archived ones.
CREATE INDEX IF NOT EXISTS intakes_by_sale ON intakes (sale_id);
-- The system of record: one row per order a window created.
CREATE TABLE IF NOT EXISTS orders (
  order_id   TEXT PRIMARY KEY,
  sale_id    TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  status     TEXT NOT NULL,
  payment_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  external_id TEXT NOT NULL DEFAULT '',
  quantity   INTEGER NOT NULL DEFAULT 1,
  item_id    TEXT NOT NULL DEFAULT ''
);
-- Outcomes on their way to the shop's event sink (--event-sink), written with
-- the journal's status in one transaction; deleted once delivered.
CREATE TABLE IF NOT EXISTS event_outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id    TEXT NOT NULL,
  sale_id     TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  status      TEXT NOT NULL,
  version     INTEGER NOT NULL,
  reason      TEXT NOT NULL DEFAULT '',
  external_id TEXT NOT NULL DEFAULT '',
  at          INTEGER NOT NULL,
  quantity    INTEGER NOT NULL DEFAULT 1,
  item_id     TEXT NOT NULL DEFAULT ''
);
-- The items of a sale of several (issue #26), in the sale's order (position):
-- remaining_db is what the stock flush last wrote of each, final_* an archive's
-- numbers (counts and units: one number per status, in OrderStatus's order).
CREATE TABLE IF NOT EXISTS sale_items (
  sale_id         TEXT NOT NULL,
  item_id         TEXT NOT NULL,
  name            TEXT NOT NULL,
  stock           INTEGER NOT NULL,
  max_per_buyer   INTEGER NOT NULL,
  remaining_db    INTEGER,
  position        INTEGER NOT NULL,
  final_remaining INTEGER,
  final_counts    TEXT,
  final_units     TEXT,
  PRIMARY KEY (sale_id, item_id)
);
-- Payment and cancellation reach the order row in the same transaction as the journal.
CREATE TRIGGER IF NOT EXISTS orders_follow_intakes AFTER UPDATE OF status ON intakes
WHEN NEW.status IN ('PAID', 'CANCELLED') BEGIN
  UPDATE orders SET status = NEW.status, payment_id = NEW.payment_id, updated_at = NEW.updated_at
  WHERE order_id = NEW.order_id;
END;
)sql";

// Columns added after the first release (also in the CREATE TABLEs above): a
// data dir made by an older build gets them at start, as CREATE TABLE IF NOT
// EXISTS leaves its tables as they are.
struct AddedColumn {
  const char* table;
  const char* column;
  const char* definition;
};
constexpr AddedColumn added_columns[] = {
    {"intakes", "external_id", "TEXT NOT NULL DEFAULT ''"},  // the shop's id of the order
    {"orders", "external_id", "TEXT NOT NULL DEFAULT ''"},
    {"sales", "settled_since", "INTEGER"},  // the sale life cycle
    {"sales", "archived_at", "INTEGER"},
    {"sales", "final_remaining", "INTEGER"},
    {"sales", "count_queued", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "count_processing", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "count_confirmed", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "count_paid", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "count_failed", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "count_cancelled", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "max_per_buyer", "INTEGER NOT NULL DEFAULT 1"},  // quantities (issue #26)
    {"sales", "buckets", "INTEGER NOT NULL DEFAULT 1"},        // buckets (issue #25; one stock here whatever it says)
    {"intakes", "quantity", "INTEGER NOT NULL DEFAULT 1"},
    {"intakes", "request_id", "TEXT NOT NULL DEFAULT ''"},
    {"orders", "quantity", "INTEGER NOT NULL DEFAULT 1"},
    {"event_outbox", "quantity", "INTEGER NOT NULL DEFAULT 1"},
    {"sales", "units_queued", "INTEGER"},  // an archive's units (NULL: archived before, every order one unit)
    {"sales", "units_processing", "INTEGER"},
    {"sales", "units_confirmed", "INTEGER"},
    {"sales", "units_paid", "INTEGER"},
    {"sales", "units_failed", "INTEGER"},
    {"sales", "units_cancelled", "INTEGER"},
    {"sales", "count_entered", "INTEGER NOT NULL DEFAULT 0"},  // the draw's statuses (issue #26)
    {"sales", "count_not_drawn", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "units_entered", "INTEGER"},
    {"sales", "units_not_drawn", "INTEGER"},
    {"sales", "admission", "TEXT NOT NULL DEFAULT 'first_come'"},  // the draw (issue #26)
    {"sales", "draw_window_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"sales", "prequeue_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"intakes", "item_id", "TEXT NOT NULL DEFAULT ''"},  // sales of several items (issue #26)
    {"orders", "item_id", "TEXT NOT NULL DEFAULT ''"},
    {"event_outbox", "item_id", "TEXT NOT NULL DEFAULT ''"},
};

enum Stmt {
  insert_sale,
  upsert_intake,
  create_order_row,
  flush_remaining,
  begin_batch,
  commit_batch,
  insert_event,
  take_events,
  delete_event,
  count_events,
  archive_sale_row,
  sale_archived_at,
  mark_sale_settled,
  find_sale_row,
  list_sale_rows,
  archived_ids,
  live_sale_intakes,
  order_sale,
  insert_draw_seed,
  insert_draw_entrant,
  mark_draw_applied,
  insert_sale_item,
  flush_item_remaining,
  items_of_sale,
  archive_item_row,
  statement_count
};

// The columns of a SaleRecord, in the order read_sale_record reads them.
#define FG_SALE_RECORD_COLUMNS                                                                                    \
  "sale_id, item, stock, starts_at, ends_at, created_at, remaining_db, settled_since, archived_at, final_remaining, " \
  "count_queued, count_processing, count_confirmed, count_paid, count_failed, count_cancelled, count_entered, "    \
  "count_not_drawn, units_queued, units_processing, units_confirmed, units_paid, units_failed, units_cancelled, "   \
  "units_entered, units_not_drawn, max_per_buyer, admission, draw_window_ms, prequeue_ms"
// One column per status in each block, in OrderStatus's order, read and written by index.
static_assert(domain::all_statuses.size() == 8, "a new status needs its count_ and units_ columns in sales");

constexpr const char* statement_sql[statement_count] = {
    ("INSERT INTO sales (sale_id, item, stock, starts_at, ends_at, created_at, max_per_buyer, admission, "
     "draw_window_ms, prequeue_ms, buckets) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
    // Parenthesised: one statement spelt over several lines, not a missing comma.
    ("INSERT INTO intakes (order_id, sale_id, user_id, seq, status, version, reason, payment_id, created_at, "
     "updated_at, external_id, quantity, request_id, item_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "?13, ?14) "
     "ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, version = excluded.version, seq = excluded.seq, "
     "reason = excluded.reason, payment_id = excluded.payment_id, updated_at = excluded.updated_at, "
     "external_id = excluded.external_id WHERE excluded.version > intakes.version"),
    ("INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at, external_id, quantity, item_id) "
     "VALUES (?1, ?2, ?3, 'CONFIRMED', ?4, ?4, ?5, ?6, ?7) ON CONFLICT (order_id) DO NOTHING"),
    "UPDATE sales SET remaining_db = ?2 WHERE sale_id = ?1",
    // Prepared once like the rest: sqlite3_exec would parse them for every commit.
    "BEGIN IMMEDIATE",
    "COMMIT",
    ("INSERT INTO event_outbox (order_id, sale_id, user_id, status, version, reason, external_id, at, quantity, "
     "item_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
    ("SELECT id, order_id, sale_id, user_id, status, version, reason, external_id, at, quantity, item_id "
     "FROM event_outbox "
     "ORDER BY id LIMIT ?1"),
    "DELETE FROM event_outbox WHERE id = ?1",
    "SELECT count(*) FROM event_outbox",
    // The commit point of an archive; a second call leaves the first numbers.
    ("UPDATE sales SET archived_at = ?2, final_remaining = ?3, remaining_db = ?3, count_queued = ?4, "
     "count_processing = ?5, count_confirmed = ?6, count_paid = ?7, count_failed = ?8, count_cancelled = ?9, "
     "count_entered = ?10, count_not_drawn = ?11, units_queued = ?12, units_processing = ?13, "
     "units_confirmed = ?14, units_paid = ?15, units_failed = ?16, units_cancelled = ?17, units_entered = ?18, "
     "units_not_drawn = ?19, settled_since = COALESCE(settled_since, ?2) WHERE sale_id = ?1 AND archived_at IS NULL"),
    "SELECT archived_at FROM sales WHERE sale_id = ?1",
    "UPDATE sales SET settled_since = ?2 WHERE sale_id = ?1 AND archived_at IS NULL",
    "SELECT " FG_SALE_RECORD_COLUMNS " FROM sales WHERE sale_id = ?1",
    "SELECT " FG_SALE_RECORD_COLUMNS " FROM sales WHERE sale_id > ?1 ORDER BY sale_id LIMIT ?2",
    "SELECT sale_id FROM sales WHERE archived_at IS NOT NULL ORDER BY sale_id",
    // Through intakes_by_sale: (sale_id, rowid) order, no sort, no archived row read.
    ("SELECT rowid, order_id, sale_id, user_id, seq, status, version, reason, payment_id, created_at, updated_at, "
     "external_id, quantity, request_id, item_id FROM intakes WHERE sale_id = ?1 ORDER BY rowid"),
    "SELECT sale_id FROM intakes WHERE order_id = ?1",
    ("INSERT INTO draws (sale_id, seed, seeded_at, entrants) VALUES (?1, ?2, ?3, ?4) "
     "ON CONFLICT (sale_id) DO NOTHING"),
    ("INSERT INTO draw_entrants (sale_id, order_id, user_id, quantity, entered_at, position) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (sale_id, order_id) DO NOTHING"),
    "UPDATE draws SET drawn_at = ?2, admitted = ?3, units = ?4 WHERE sale_id = ?1 AND drawn_at IS NULL",
    ("INSERT INTO sale_items (sale_id, item_id, name, stock, max_per_buyer, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
    "UPDATE sale_items SET remaining_db = ?3 WHERE sale_id = ?1 AND item_id = ?2",
    ("SELECT item_id, name, stock, max_per_buyer, remaining_db, final_remaining, final_counts, final_units "
     "FROM sale_items WHERE sale_id = ?1 ORDER BY position"),
    ("UPDATE sale_items SET final_remaining = ?3, remaining_db = ?3, final_counts = ?4, final_units = ?5 "
     "WHERE sale_id = ?1 AND item_id = ?2 AND final_remaining IS NULL"),
};

// The statuses the event sink is told of.
bool is_outcome(domain::OrderStatus status) {
  using domain::OrderStatus;
  return status == OrderStatus::confirmed || status == OrderStatus::failed || status == OrderStatus::paid ||
         status == OrderStatus::cancelled;
}

constexpr const char* load_draws_sql =
    "SELECT d.sale_id, d.seed, d.seeded_at, d.entrants, d.drawn_at FROM draws d JOIN sales s USING (sale_id) "
    "WHERE s.archived_at IS NULL";

constexpr const char* load_sales_sql =
    "SELECT sale_id, item, stock, starts_at, ends_at, created_at, remaining_db, max_per_buyer, admission, "
    "draw_window_ms, prequeue_ms, buckets FROM sales "
    "WHERE archived_at IS NULL "
    "ORDER BY created_at";

// SQLITE_STATIC: SQLite reads the text where it is instead of copying it
// (a copy and an allocation per column of every intake). Every statement is
// stepped, reset and unbound (step_done) inside the job that owns the strings.
void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

void bind_optional(sqlite3_stmt* s, int i, const std::optional<domain::TimeMs>& v) {
  if (v) sqlite3_bind_int64(s, i, *v);
  else sqlite3_bind_null(s, i);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* text = sqlite3_column_text(s, i);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
              : std::string();
}

// The admission columns (admission, draw_window_ms, prequeue_ms) from `first` on.
domain::SaleAdmission read_admission(sqlite3_stmt* s, int first) {
  return {domain::parse_admission(column_text(s, first)).value_or(domain::Admission::first_come),
          sqlite3_column_int64(s, first + 1), sqlite3_column_int64(s, first + 2)};
}

// An intake row's columns, as upsert_intake takes them.
void bind_intake(sqlite3_stmt* s, const domain::Order& order) {
  bind_text(s, 1, order.order_id);
  bind_text(s, 2, order.sale_id);
  bind_text(s, 3, order.user_id);
  sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(order.seq));
  sqlite3_bind_text(s, 5, domain::to_string(order.status).data(),
                    static_cast<int>(domain::to_string(order.status).size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, 6, static_cast<std::int64_t>(order.version));
  bind_text(s, 7, order.reason);
  bind_text(s, 8, order.payment_id);
  sqlite3_bind_int64(s, 9, order.created_at);
  sqlite3_bind_int64(s, 10, order.updated_at);
  bind_text(s, 11, order.external_id);
  sqlite3_bind_int64(s, 12, order.quantity);
  bind_text(s, 13, order.request_id);
  bind_text(s, 14, order.item_id);
}

std::optional<std::int64_t> column_optional(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}

bool has_column(sqlite3* db, const std::string& table, const std::string& column) {
  sqlite3_stmt* s = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &s, nullptr) == SQLITE_OK)
    while (!found && sqlite3_step(s) == SQLITE_ROW) found = column_text(s, 1) == column;
  sqlite3_finalize(s);
  return found;
}

// Empty, or why a column could not be added.
std::string add_missing_columns(sqlite3* db) {
  for (const auto& added : added_columns) {
    if (has_column(db, added.table, added.column)) continue;
    const std::string sql =
        std::string("ALTER TABLE ") + added.table + " ADD COLUMN " + added.column + " " + added.definition;
    char* error = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = sql + ": " + (error ? error : "unknown error");
      sqlite3_free(error);
      return message;
    }
    spdlog::info("database: {}.{} added", added.table, added.column);
  }
  return {};
}

// An archive's counts or units of one item: one number per status, space-separated.
std::string status_numbers(const std::array<std::uint64_t, domain::all_statuses.size()>& numbers) {
  std::string out;
  for (const auto n : numbers) {
    if (!out.empty()) out += ' ';
    out += std::to_string(n);
  }
  return out;
}

std::array<std::uint64_t, domain::all_statuses.size()> parse_status_numbers(const std::string& text) {
  std::array<std::uint64_t, domain::all_statuses.size()> out{};
  std::size_t at = 0;
  for (auto& n : out) {
    while (at < text.size() && text[at] == ' ') ++at;
    std::size_t end = at;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == at) break;
    n = std::stoull(text.substr(at, end - at));
    at = end;
  }
  return out;
}

SaleRecord read_sale_record(sqlite3_stmt* s) {
  SaleRecord r;
  r.sale = domain::Sale{column_text(s, 0), column_text(s, 1), sqlite3_column_int64(s, 2),
                        column_optional(s, 3),   column_optional(s, 4), sqlite3_column_int64(s, 5)};
  r.remaining_db = column_optional(s, 6);
  r.settled_since = column_optional(s, 7);
  r.archived_at = column_optional(s, 8);
  const auto final_remaining = column_optional(s, 9);
  r.remaining = r.archived_at && final_remaining ? *final_remaining : r.remaining_db.value_or(r.sale.stock);
  for (std::size_t i = 0; i < r.counts.size(); ++i)
    r.counts[i] = static_cast<std::uint64_t>(sqlite3_column_int64(s, 10 + static_cast<int>(i)));
  for (std::size_t i = 0; i < r.units.size(); ++i)
    r.units[i] = static_cast<std::uint64_t>(
        column_optional(s, 10 + static_cast<int>(r.counts.size() + i)).value_or(static_cast<std::int64_t>(r.counts[i])));
  const int after_units = 10 + static_cast<int>(r.counts.size() + r.units.size());
  r.sale.max_per_buyer = sqlite3_column_int64(s, after_units);
  r.sale.admission = read_admission(s, after_units + 1);
  return r;
}

// Steps a SELECT to its end, then resets and unbinds it; SQLITE_OK if every row was read.
template <class Row>
int each_row(sqlite3_stmt* s, Row&& row) {
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int step_done(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// The items of one sale (none for a sale of one item), in its order; SQLITE_OK if read.
// `archived`: remaining is the archive's final number, else the last flushed (or the stock).
int read_sale_items(sqlite3_stmt* s, const std::string& sale_id, bool archived, std::vector<store::ItemView>& items) {
  bind_text(s, 1, sale_id);
  return each_row(s, [&](sqlite3_stmt* row) {
    store::ItemView item;
    item.item = domain::SaleItem{column_text(row, 0), column_text(row, 1), sqlite3_column_int64(row, 2),
                                 sqlite3_column_int64(row, 3)};
    item.remaining_db = column_optional(row, 4);
    const auto final_remaining = column_optional(row, 5);
    item.remaining = archived && final_remaining ? *final_remaining : item.remaining_db.value_or(item.item.stock);
    if (archived) {
      item.counts = parse_status_numbers(column_text(row, 6));
      item.units = parse_status_numbers(column_text(row, 7));
    }
    items.push_back(std::move(item));
  });
}

}  // namespace

SqliteDatabase::SqliteDatabase(const std::filesystem::path& path, CommitObserver observer, SqliteFeatures features)
    : path_(path), commit_observer_(std::move(observer)), features_(features) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open database " + path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 2000);  // a locked database fails intakes (503) after this
  char* error = nullptr;
  if (sqlite3_exec(db_, schema_sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db_);
    throw std::runtime_error("cannot create the schema in " + path.string() + ": " + message);
  }
  if (const auto why = add_missing_columns(db_); !why.empty()) {
    sqlite3_close(db_);
    throw std::runtime_error("cannot upgrade the schema in " + path.string() + ": " + why);
  }
  for (const char* sql : statement_sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("cannot prepare statement: ") + sqlite3_errmsg(db_));
    statements_.push_back(stmt);
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    device_ = info.st_dev;
    inode_ = info.st_ino;
  }
  checkpointer_ = std::make_unique<WalCheckpointer>(path, db_);
  writer_ = std::thread([this] {
    platform::name_this_thread("fg-sqlite-write");
    writer_loop();
  });
}

bool SqliteDatabase::file_in_place() const {
  struct stat info {};
  return ::stat(path_.c_str(), &info) == 0 && info.st_dev == device_ && info.st_ino == inode_;
}

SqliteDatabase::~SqliteDatabase() {
  close();
  checkpointer_.reset();  // the writer's close is then the last: it checkpoints what is left
  for (auto* stmt : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

void SqliteDatabase::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    closing_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

sqlite3_stmt* SqliteDatabase::statement(int which) { return statements_[static_cast<std::size_t>(which)]; }

void SqliteDatabase::submit(Apply apply, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (!closing_) {
      pending_.push_back(Job{std::move(apply), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  if (done) done(false);  // closed: nothing more can be kept
  commit_ended();
}

bool SqliteDatabase::submit_and_wait(Apply apply) {
  std::promise<bool> durable;
  auto result = durable.get_future();
  submit(std::move(apply), [&durable](bool ok) { durable.set_value(ok); });
  return result.get();
}

void SqliteDatabase::writer_loop() {
  std::deque<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return closing_ || !pending_.empty(); });
      if (pending_.empty()) return;  // closing, and everything is written
      batch.swap(pending_);
    }
    // Everything that arrived while the previous transaction was syncing goes
    // into this one: one fsync for many intakes.
    run_batch(batch);
    batch.clear();
  }
}

void SqliteDatabase::run_batch(std::deque<Job>& batch) {
  const auto started = std::chrono::steady_clock::now();
  // A removed or replaced file would take writes that no restart can find.
  const bool in_place = file_in_place();
  int rc = in_place ? step_done(statement(begin_batch)) : SQLITE_NOTFOUND;
  for (auto it = batch.begin(); rc == SQLITE_OK && it != batch.end(); ++it)
    if (it->apply) rc = it->apply(*this);
  if (rc == SQLITE_OK) rc = step_done(statement(commit_batch));
  const bool ok = rc == SQLITE_OK;
  if (!ok) {
    failures_.fetch_add(1);
    // SQLite has no code for "not our file": its errstr would say "unknown operation".
    spdlog::error("database write failed ({}), {} jobs refused",
                  in_place ? sqlite3_errstr(rc) : "the database file was removed or replaced", batch.size());
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  } else {
    transactions_.fetch_add(1);
    jobs_.fetch_add(batch.size());
    if (commit_observer_)
      commit_observer_(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  for (auto& job : batch)
    if (job.done) job.done(ok);
  commit_ended();
}

void SqliteDatabase::release_memory() {
  // Pages the batch's own writes hold stay; the rest of the cache goes.
  submit_and_wait([](SqliteDatabase& self) {
    sqlite3_db_release_memory(self.db_);
    return SQLITE_OK;
  });
}

std::int64_t SqliteDatabase::page_cache_bytes() {
  int used = 0, highest = 0;
  submit_and_wait([&](SqliteDatabase& self) {
    sqlite3_db_status(self.db_, SQLITE_DBSTATUS_CACHE_USED, &used, &highest, 0);
    return SQLITE_OK;
  });
  return used;
}

void SqliteDatabase::record_sale(const domain::Sale& sale, Done done) {
  submit(
      [sale](SqliteDatabase& self) {
        auto* s = self.statement(insert_sale);
        bind_text(s, 1, sale.sale_id);
        bind_text(s, 2, sale.item);
        sqlite3_bind_int64(s, 3, sale.stock);
        bind_optional(s, 4, sale.starts_at);
        bind_optional(s, 5, sale.ends_at);
        sqlite3_bind_int64(s, 6, sale.created_at);
        sqlite3_bind_int64(s, 7, sale.max_per_buyer);
        const auto admission = domain::to_string(sale.admission.admission);
        sqlite3_bind_text(s, 8, admission.data(), static_cast<int>(admission.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s, 9, sale.admission.draw_window_ms);
        sqlite3_bind_int64(s, 10, sale.admission.prequeue_ms);
        sqlite3_bind_int64(s, 11, sale.buckets);
        if (const int rc = step_done(s); rc != SQLITE_OK) return rc;
        // Its items in the same transaction: a restart finds both or neither.
        auto* item = self.statement(insert_sale_item);
        for (std::size_t i = 0; i < sale.items.size(); ++i) {
          bind_text(item, 1, sale.sale_id);
          bind_text(item, 2, sale.items[i].item_id);
          bind_text(item, 3, sale.items[i].name);
          sqlite3_bind_int64(item, 4, sale.items[i].stock);
          sqlite3_bind_int64(item, 5, sale.items[i].max_per_buyer);
          sqlite3_bind_int64(item, 6, static_cast<std::int64_t>(i));
          if (const int rc = step_done(item); rc != SQLITE_OK) return rc;
        }
        return SQLITE_OK;
      },
      std::move(done));
}

void SqliteDatabase::record_order(domain::Order order, Done done) {
  submit(
      [order = std::move(order)](SqliteDatabase& self) {
        auto* s = self.statement(upsert_intake);
        bind_intake(s, order);
        if (const int rc = step_done(s); rc != SQLITE_OK) return rc;
        // Only a write that changed the row: a repeated or older version is nothing new.
        if (sqlite3_changes(self.db_) == 0) return SQLITE_OK;
        if (order.status == domain::OrderStatus::confirmed && self.features_.order_rows_from_journal)
          if (const int rc = self.insert_order_row(order, order.updated_at); rc != SQLITE_OK) return rc;
        if (!self.features_.event_outbox || !is_outcome(order.status)) return SQLITE_OK;
        auto* e = self.statement(insert_event);
        bind_text(e, 1, order.order_id);
        bind_text(e, 2, order.sale_id);
        bind_text(e, 3, order.user_id);
        sqlite3_bind_text(e, 4, domain::to_string(order.status).data(),
                          static_cast<int>(domain::to_string(order.status).size()), SQLITE_STATIC);
        sqlite3_bind_int64(e, 5, static_cast<std::int64_t>(order.version));
        bind_text(e, 6, order.reason);
        bind_text(e, 7, order.external_id);
        sqlite3_bind_int64(e, 8, order.updated_at);
        sqlite3_bind_int64(e, 9, order.quantity);
        bind_text(e, 10, order.item_id);
        return step_done(e);
      },
      std::move(done));
}

void SqliteDatabase::record_draw_seed(const store::DrawRecord& draw, Done done) {
  submit(
      [sale_id = draw.sale_id, seed = domain::draw_seed_hex(draw.seed), at = draw.seeded_at,
       entrants = draw.entrants](SqliteDatabase& self) {
        auto* s = self.statement(insert_draw_seed);
        bind_text(s, 1, sale_id);
        bind_text(s, 2, seed);
        sqlite3_bind_int64(s, 3, at);
        sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(entrants));
        return step_done(s);
      },
      std::move(done));
}

void SqliteDatabase::record_draw_result(store::DrawResultRecord result, Done done) {
  submit(
      [result = std::move(result)](SqliteDatabase& self) {
        auto* intake = self.statement(upsert_intake);
        auto* entrant = self.statement(insert_draw_entrant);
        for (const auto& order : result.entrants) {
          bind_intake(intake, order);
          if (const int rc = step_done(intake); rc != SQLITE_OK) return rc;
          bind_text(entrant, 1, order.sale_id);
          bind_text(entrant, 2, order.order_id);
          bind_text(entrant, 3, order.user_id);
          sqlite3_bind_int64(entrant, 4, order.quantity);
          sqlite3_bind_int64(entrant, 5, order.created_at);
          if (order.status == domain::OrderStatus::queued) sqlite3_bind_int64(entrant, 6, static_cast<std::int64_t>(order.seq));
          else sqlite3_bind_null(entrant, 6);
          if (const int rc = step_done(entrant); rc != SQLITE_OK) return rc;
        }
        auto* mark = self.statement(mark_draw_applied);
        bind_text(mark, 1, result.sale_id);
        sqlite3_bind_int64(mark, 2, result.drawn_at);
        sqlite3_bind_int64(mark, 3, result.admitted);
        sqlite3_bind_int64(mark, 4, result.units_admitted);
        if (const int rc = step_done(mark); rc != SQLITE_OK) return rc;
        // No seed row to mark: the result must not stand without the seed that made it.
        return sqlite3_changes(self.db_) == 1 ? SQLITE_OK : SQLITE_CONSTRAINT;
      },
      std::move(done));
}

void SqliteDatabase::barrier(Done done) { submit({}, std::move(done)); }

int SqliteDatabase::insert_order_row(const domain::Order& order, domain::TimeMs at) {
  auto* s = statement(create_order_row);
  bind_text(s, 1, order.order_id);
  bind_text(s, 2, order.sale_id);
  bind_text(s, 3, order.user_id);
  sqlite3_bind_int64(s, 4, at);
  bind_text(s, 5, order.external_id);
  sqlite3_bind_int64(s, 6, order.quantity);
  bind_text(s, 7, order.item_id);
  return step_done(s);
}

bool SqliteDatabase::create_order(const domain::Order& order) {
  // The journal's CONFIRMED writes the row, in the transaction that makes the
  // status durable: one fsync a window waits for instead of two.
  if (features_.order_rows_from_journal) return true;
  return submit_and_wait([order](SqliteDatabase& self) { return self.insert_order_row(order, domain::now_ms()); });
}

bool SqliteDatabase::flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) {
  return submit_and_wait([remaining](SqliteDatabase& self) {
    auto* s = self.statement(flush_remaining);
    auto* item = self.statement(flush_item_remaining);
    for (const auto& [key, value] : remaining) {
      if (const auto item_key = domain::parse_item_stock_key(key)) {
        const std::string sale_id(item_key->sale_id), item_id(item_key->item_id);
        bind_text(item, 1, sale_id);
        bind_text(item, 2, item_id);
        sqlite3_bind_int64(item, 3, value);
        if (int rc = step_done(item); rc != SQLITE_OK) return rc;
        continue;
      }
      bind_text(s, 1, key);
      sqlite3_bind_int64(s, 2, value);
      if (int rc = step_done(s); rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
  });
}

std::uint64_t SqliteDatabase::count_orders() {
  std::uint64_t count = 0;
  submit_and_wait([&count](SqliteDatabase& self) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(self.db_, "SELECT COUNT(*) FROM orders", -1, &s, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    return rc;
  });
  return count;
}

std::optional<std::vector<OutboxEvent>> SqliteDatabase::take(std::size_t limit) {
  std::vector<OutboxEvent> events;
  const bool ok = submit_and_wait([&events, limit](SqliteDatabase& self) {
    auto* s = self.statement(take_events);
    sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(limit));
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      OutboxEvent e;
      e.id = sqlite3_column_int64(s, 0);
      e.order_id = column_text(s, 1);
      e.sale_id = column_text(s, 2);
      e.user_id = column_text(s, 3);
      e.status = column_text(s, 4);
      e.version = static_cast<std::uint64_t>(sqlite3_column_int64(s, 5));
      e.reason = column_text(s, 6);
      e.external_id = column_text(s, 7);
      e.at = sqlite3_column_int64(s, 8);
      e.quantity = sqlite3_column_int64(s, 9);
      e.item_id = column_text(s, 10);
      events.push_back(std::move(e));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  });
  if (!ok) return std::nullopt;
  return events;
}

bool SqliteDatabase::delivered(const std::vector<std::int64_t>& ids) {
  return submit_and_wait([&ids](SqliteDatabase& self) {
    auto* s = self.statement(delete_event);
    for (const auto id : ids) {
      sqlite3_bind_int64(s, 1, id);
      if (int rc = step_done(s); rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
  });
}

std::optional<std::uint64_t> SqliteDatabase::depth() {
  std::uint64_t count = 0;
  const bool ok = submit_and_wait([&count](SqliteDatabase& self) {
    auto* s = self.statement(count_events);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
  });
  if (!ok) return std::nullopt;
  return count;
}

store::JournalState SqliteDatabase::load() {
  store::JournalState state;
  const bool ok = submit_and_wait([&state](SqliteDatabase& self) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(self.db_, load_sales_sql, -1, &s, nullptr);
    while (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      domain::Sale sale{column_text(s, 0), column_text(s, 1), sqlite3_column_int64(s, 2),
                        column_optional(s, 3), column_optional(s, 4), sqlite3_column_int64(s, 5)};
      sale.max_per_buyer = sqlite3_column_int64(s, 7);
      sale.admission = read_admission(s, 8);
      sale.buckets = sqlite3_column_int64(s, 11);
      if (auto remaining = column_optional(s, 6)) state.remaining_db.emplace_back(sale.sale_id, *remaining);
      state.sales.push_back(std::move(sale));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) return rc;
    for (auto& sale : state.sales) {
      std::vector<store::ItemView> items;
      if ((rc = read_sale_items(self.statement(items_of_sale), sale.sale_id, false, items)) != SQLITE_OK) return rc;
      for (auto& item : items) {
        if (item.remaining_db)
          state.remaining_db.emplace_back(domain::item_stock_key(sale.sale_id, item.item.item_id), *item.remaining_db);
        sale.items.push_back(std::move(item.item));
      }
    }
    rc = sqlite3_prepare_v2(self.db_, load_draws_sql, -1, &s, nullptr);
    while (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      store::DrawRecord draw;
      draw.sale_id = column_text(s, 0);
      const auto seed = domain::parse_draw_seed_hex(column_text(s, 1));
      if (!seed) continue;  // not a seed this code wrote: that sale's draw is not resumed
      draw.seed = *seed;
      draw.seeded_at = sqlite3_column_int64(s, 2);
      draw.entrants = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
      draw.applied = sqlite3_column_type(s, 4) != SQLITE_NULL;
      state.draws.push_back(std::move(draw));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) return rc;
    // Only live sales' intakes, each sale's through the index; then all of
    // them in commit order (rowid), which is the order of the queue.
    std::vector<std::pair<std::int64_t, domain::Order>> loaded;
    auto* intakes = self.statement(live_sale_intakes);
    for (const auto& sale : state.sales) {
      bind_text(intakes, 1, sale.sale_id);
      rc = each_row(intakes, [&loaded](sqlite3_stmt* row) {
        domain::Order o;
        o.order_id = column_text(row, 1);
        o.sale_id = column_text(row, 2);
        o.user_id = column_text(row, 3);
        o.seq = static_cast<std::uint64_t>(sqlite3_column_int64(row, 4));
        o.status = domain::parse_status(column_text(row, 5)).value_or(domain::OrderStatus::queued);
        o.version = static_cast<std::uint64_t>(sqlite3_column_int64(row, 6));
        o.reason = column_text(row, 7);
        o.payment_id = column_text(row, 8);
        o.created_at = sqlite3_column_int64(row, 9);
        o.updated_at = sqlite3_column_int64(row, 10);
        o.external_id = column_text(row, 11);
        o.quantity = sqlite3_column_int64(row, 12);
        o.request_id = column_text(row, 13);
        o.item_id = column_text(row, 14);
        loaded.emplace_back(sqlite3_column_int64(row, 0), std::move(o));
      });
      if (rc != SQLITE_OK) return rc;
    }
    std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    state.orders.reserve(loaded.size());
    for (auto& [rowid, order] : loaded) state.orders.push_back(std::move(order));
    return SQLITE_OK;
  });
  if (!ok) throw std::runtime_error("cannot read the journal");
  return state;
}

bool SqliteDatabase::archive_sale(const store::SaleView& final_numbers, domain::TimeMs at) {
  return submit_and_wait([&final_numbers, at](SqliteDatabase& self) {
    auto* s = self.statement(archive_sale_row);
    bind_text(s, 1, final_numbers.sale.sale_id);
    sqlite3_bind_int64(s, 2, at);
    sqlite3_bind_int64(s, 3, final_numbers.remaining);
    for (std::size_t i = 0; i < final_numbers.counts.size(); ++i)
      sqlite3_bind_int64(s, 4 + static_cast<int>(i), static_cast<std::int64_t>(final_numbers.counts[i]));
    for (std::size_t i = 0; i < final_numbers.units.size(); ++i)
      sqlite3_bind_int64(s, 4 + static_cast<int>(final_numbers.counts.size() + i),
                         static_cast<std::int64_t>(final_numbers.units[i]));
    if (const int rc = step_done(s); rc != SQLITE_OK) return rc;
    auto* item = self.statement(archive_item_row);
    for (const auto& view : final_numbers.items) {
      const std::string counts = status_numbers(view.counts), units = status_numbers(view.units);
      bind_text(item, 1, final_numbers.sale.sale_id);
      bind_text(item, 2, view.item.item_id);
      sqlite3_bind_int64(item, 3, view.remaining);
      bind_text(item, 4, counts);
      bind_text(item, 5, units);
      if (const int rc = step_done(item); rc != SQLITE_OK) return rc;
    }
    // Archived now or before; a sale the file has no row of is not.
    bool archived = false;
    auto* check = self.statement(sale_archived_at);
    bind_text(check, 1, final_numbers.sale.sale_id);
    const int rc = each_row(check, [&archived](sqlite3_stmt* row) { archived = sqlite3_column_type(row, 0) != SQLITE_NULL; });
    if (rc != SQLITE_OK) return rc;
    return archived ? SQLITE_OK : SQLITE_NOTFOUND;
  });
}

int SqliteDatabase::read_items(SaleRecord& record) {
  if (const int rc = read_sale_items(statement(items_of_sale), record.sale.sale_id, record.archived_at.has_value(),
                                     record.items);
      rc != SQLITE_OK)
    return rc;
  for (const auto& item : record.items) record.sale.items.push_back(item.item);
  return SQLITE_OK;
}

bool SqliteDatabase::mark_settled(const std::string& sale_id, std::optional<domain::TimeMs> since) {
  return submit_and_wait([&sale_id, since](SqliteDatabase& self) {
    auto* s = self.statement(mark_sale_settled);
    bind_text(s, 1, sale_id);
    bind_optional(s, 2, since);
    return step_done(s);
  });
}

std::optional<SaleRecord> SqliteDatabase::find_sale(const std::string& sale_id) {
  std::optional<SaleRecord> found;
  const bool ok = submit_and_wait([&sale_id, &found](SqliteDatabase& self) {
    auto* s = self.statement(find_sale_row);
    bind_text(s, 1, sale_id);
    if (const int rc = each_row(s, [&found](sqlite3_stmt* row) { found = read_sale_record(row); }); rc != SQLITE_OK)
      return rc;
    return found ? self.read_items(*found) : SQLITE_OK;
  });
  return ok ? found : std::nullopt;
}

std::vector<SaleRecord> SqliteDatabase::list_sales(const std::string& after_sale_id, std::size_t limit) {
  std::vector<SaleRecord> records;
  const bool ok = submit_and_wait([&after_sale_id, limit, &records](SqliteDatabase& self) {
    auto* s = self.statement(list_sale_rows);
    bind_text(s, 1, after_sale_id);
    sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(limit));
    if (const int rc = each_row(s, [&records](sqlite3_stmt* row) { records.push_back(read_sale_record(row)); });
        rc != SQLITE_OK)
      return rc;
    for (auto& record : records)
      if (const int rc = self.read_items(record); rc != SQLITE_OK) return rc;
    return SQLITE_OK;
  });
  if (!ok) return {};
  return records;
}

std::vector<std::string> SqliteDatabase::archived_sale_ids() {
  std::vector<std::string> ids;
  const bool ok = submit_and_wait([&ids](SqliteDatabase& self) {
    return each_row(self.statement(archived_ids), [&ids](sqlite3_stmt* row) { ids.push_back(column_text(row, 0)); });
  });
  if (!ok) return {};
  return ids;
}

std::optional<std::string> SqliteDatabase::sale_of_order(const std::string& order_id) {
  std::optional<std::string> sale_id;
  const bool ok = submit_and_wait([&order_id, &sale_id](SqliteDatabase& self) {
    auto* s = self.statement(order_sale);
    bind_text(s, 1, order_id);
    return each_row(s, [&sale_id](sqlite3_stmt* row) { sale_id = column_text(row, 0); });
  });
  return ok ? sale_id : std::nullopt;
}

}  // namespace flashgate::database
