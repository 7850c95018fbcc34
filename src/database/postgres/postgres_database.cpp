#include "database/postgres/postgres_database.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "database/postgres/migrations.hpp"
#include "domain/time.hpp"

namespace flashgate::database {
namespace {

using postgres::Result;

constexpr const char* insert_sale = "flashgate_insert_sale";
constexpr const char* create_order_row = "flashgate_create_order";
constexpr const char* set_remaining = "flashgate_set_remaining";
constexpr const char* count_all_orders = "flashgate_count_orders";
constexpr const char* upsert_outcome = "flashgate_upsert_outcome";
constexpr const char* create_order_with_event = "flashgate_create_order_event";
constexpr const char* upsert_outcome_with_event = "flashgate_upsert_outcome_event";
constexpr const char* take_events = "flashgate_take_events";
constexpr const char* delete_events = "flashgate_delete_events";
constexpr const char* count_events = "flashgate_count_events";
constexpr const char* archive_sale_row = "flashgate_archive_sale";
constexpr const char* set_settled_since = "flashgate_set_settled_since";
constexpr const char* select_sale = "flashgate_select_sale";
constexpr const char* select_sales_after = "flashgate_select_sales_after";
constexpr const char* select_archived_ids = "flashgate_select_archived_ids";
constexpr const char* count_sale_orders = "flashgate_count_sale_orders";
constexpr const char* select_sale_of_order = "flashgate_select_sale_of_order";
constexpr const char* insert_draw_seed = "flashgate_insert_draw_seed";
constexpr const char* insert_draw_entrants = "flashgate_insert_draw_entrants";
constexpr const char* set_draw_result = "flashgate_set_draw_result";
constexpr const char* insert_sale_items = "flashgate_insert_sale_items";
constexpr const char* select_sale_items = "flashgate_select_sale_items";
constexpr const char* set_item_remaining = "flashgate_set_item_remaining";
constexpr const char* archive_sale_items = "flashgate_archive_sale_items";

// The columns a SaleRecord is read from, in read_sale's order.
#define FLASHGATE_SALE_COLUMNS                                                                                   \
  "sale_id, item, stock, starts_at, ends_at, created_at, remaining_db, settled_since, archived_at, count_queued, " \
  "count_processing, count_confirmed, count_paid, count_failed, count_cancelled, count_entered, count_not_drawn, "   \
  "final_remaining, units_queued, units_processing, units_confirmed, units_paid, units_failed, units_cancelled, "    \
  "units_entered, units_not_drawn, max_per_buyer"
// One column per status in each block, in OrderStatus's order, read and written by index.
static_assert(domain::all_statuses.size() == 8, "a new status needs its count_ and units_ columns in sales");

constexpr postgres::PreparedStatement statements[] = {
    {insert_sale,
     "INSERT INTO sales (sale_id, item, stock, starts_at, ends_at, created_at, max_per_buyer, buckets) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sale_id) DO NOTHING",
     8},
    {create_order_row,
     "INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at, external_id, quantity, item_id) "
     "VALUES ($1, $2, $3, 'CONFIRMED', $4, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING",
     7},
    // An archived sale's remaining_db is its final number: a late flush leaves it.
    {set_remaining, "UPDATE sales SET remaining_db = $2 WHERE sale_id = $1 AND archived_at IS NULL", 2},
    {count_all_orders, "SELECT count(*) FROM orders", 0},
    // A FAILED order was never created, so the outcome may insert the row. The
    // WHERE makes a final status stick: the row takes the first outcome that
    // reaches it (a payment racing the timeout ends in one state), and a
    // repeated one changes nothing.
    {upsert_outcome,
     "INSERT INTO orders AS o (order_id, sale_id, user_id, status, payment_id, reason, created_at, updated_at, "
     "quantity, item_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
     "ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, payment_id = excluded.payment_id, "
     "reason = excluded.reason, updated_at = excluded.updated_at "
     "WHERE o.status NOT IN ('PAID', 'CANCELLED', 'FAILED', 'NOT_DRAWN')",
     10},
    // The same two writes with an event sink: the outbox row goes in with the
    // order row, and only if the order row was inserted or changed, so a
    // repeated call queues nothing twice.
    {create_order_with_event,
     "WITH created AS (INSERT INTO orders (order_id, sale_id, user_id, status, created_at, updated_at, external_id, "
     "quantity, item_id) VALUES ($1, $2, $3, 'CONFIRMED', $4, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING "
     "RETURNING order_id) "
     "INSERT INTO event_outbox (order_id, sale_id, user_id, status, version, reason, external_id, at, quantity, "
     "item_id) SELECT $1, $2, $3, 'CONFIRMED', $8, '', $5, $4, $6, $7 FROM created",
     8},
    {upsert_outcome_with_event,
     "WITH changed AS (INSERT INTO orders AS o (order_id, sale_id, user_id, status, payment_id, reason, created_at, "
     "updated_at, quantity, item_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
     "ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, payment_id = excluded.payment_id, "
     "reason = excluded.reason, updated_at = excluded.updated_at "
     "WHERE o.status NOT IN ('PAID', 'CANCELLED', 'FAILED', 'NOT_DRAWN') RETURNING order_id) "
     "INSERT INTO event_outbox (order_id, sale_id, user_id, status, version, reason, external_id, at, quantity, "
     "item_id) SELECT $1, $2, $3, $4, $11, $6, $12, $8, $9, $10 FROM changed",
     12},
    {take_events,
     "SELECT id, order_id, sale_id, user_id, status, version, reason, external_id, at, quantity, item_id "
     "FROM event_outbox "
     "ORDER BY id LIMIT $1",
     1},
    {delete_events, "DELETE FROM event_outbox WHERE id = ANY($1::bigint[])", 1},
    {count_events, "SELECT count(*) FROM event_outbox", 0},
    // The commit point of an archive, in one statement: the row is made if the
    // stock flush has not made it yet, and an archived row keeps its first
    // numbers (the WHERE).
    {archive_sale_row,
     "INSERT INTO sales AS s (sale_id, item, stock, starts_at, ends_at, created_at, remaining_db, final_remaining, "
     "settled_since, archived_at, count_queued, count_processing, count_confirmed, count_paid, count_failed, "
     "count_cancelled, count_entered, count_not_drawn, units_queued, units_processing, units_confirmed, units_paid, "
     "units_failed, units_cancelled, units_entered, units_not_drawn, max_per_buyer) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, "
     "$22, $23, $24, $25) "
     "ON CONFLICT (sale_id) DO UPDATE SET remaining_db = excluded.remaining_db, "
     "final_remaining = excluded.final_remaining, "
     "settled_since = COALESCE(s.settled_since, excluded.settled_since), archived_at = excluded.archived_at, "
     "count_queued = excluded.count_queued, count_processing = excluded.count_processing, "
     "count_confirmed = excluded.count_confirmed, count_paid = excluded.count_paid, "
     "count_failed = excluded.count_failed, count_cancelled = excluded.count_cancelled, "
     "count_entered = excluded.count_entered, count_not_drawn = excluded.count_not_drawn, "
     "units_queued = excluded.units_queued, units_processing = excluded.units_processing, "
     "units_confirmed = excluded.units_confirmed, units_paid = excluded.units_paid, "
     "units_failed = excluded.units_failed, units_cancelled = excluded.units_cancelled, "
     "units_entered = excluded.units_entered, units_not_drawn = excluded.units_not_drawn "
     "WHERE s.archived_at IS NULL",
     25},
    {set_settled_since, "UPDATE sales SET settled_since = $2 WHERE sale_id = $1 AND archived_at IS NULL", 2},
    {select_sale, "SELECT " FLASHGATE_SALE_COLUMNS " FROM sales WHERE sale_id = $1", 1},
    {select_sales_after, "SELECT " FLASHGATE_SALE_COLUMNS " FROM sales WHERE sale_id > $1 ORDER BY sale_id LIMIT $2",
     2},
    {select_archived_ids, "SELECT sale_id FROM sales WHERE archived_at IS NOT NULL ORDER BY sale_id", 0},
    {count_sale_orders, "SELECT status, count(*) FROM orders WHERE sale_id = $1 GROUP BY status", 1},
    {select_sale_of_order, "SELECT sale_id FROM orders WHERE order_id = $1", 1},
    // The first seed written stays, and is the answer: a drawer that meets
    // another seed there must not draw with its own.
    {insert_draw_seed,
     "WITH written AS (INSERT INTO draws (sale_id, seed, seeded_at, entrants) VALUES ($1, $2, $3, $4) "
     "ON CONFLICT (sale_id) DO NOTHING RETURNING seed) "
     "SELECT seed FROM written UNION ALL SELECT seed FROM draws WHERE sale_id = $1",
     4},
    // A batch of entrants as parallel arrays (position 0: not drawn).
    {insert_draw_entrants,
     "INSERT INTO draw_entrants (sale_id, order_id, user_id, quantity, entered_at, position) "
     "SELECT $1, o, u, q, t, NULLIF(p, 0) FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], "
     "$6::bigint[]) AS e(o, u, q, t, p) ON CONFLICT (sale_id, order_id) DO NOTHING",
     6},
    {set_draw_result,
     "UPDATE draws SET drawn_at = $2, admitted = $3, units = $4 WHERE sale_id = $1 AND drawn_at IS NULL", 4},
    // A sale of several items: its items as parallel arrays, in the sale's order.
    {insert_sale_items,
     "INSERT INTO sale_items (sale_id, item_id, name, stock, max_per_buyer, position) "
     "SELECT $1, i, n, s, m, p FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[]) "
     "AS e(i, n, s, m, p) ON CONFLICT (sale_id, item_id) DO NOTHING",
     6},
    {select_sale_items,
     "SELECT sale_id, item_id, name, stock, max_per_buyer, remaining_db, final_remaining, "
     "array_to_string(counts, ','), array_to_string(units, ',') FROM sale_items WHERE sale_id = ANY($1::text[]) "
     "ORDER BY sale_id, position",
     1},
    // As set_remaining: an archived item (its final_remaining written) keeps its numbers.
    {set_item_remaining,
     "UPDATE sale_items SET remaining_db = $3 WHERE sale_id = $1 AND item_id = $2 AND final_remaining IS NULL", 3},
    // With archive_sale_row, in its transaction: the items' final numbers (made if record_sale never ran).
    {archive_sale_items,
     "INSERT INTO sale_items AS t (sale_id, item_id, name, stock, max_per_buyer, position, remaining_db, "
     "final_remaining, counts, units) "
     "SELECT $1, i, n, s, m, p, r, r, string_to_array(c, ',')::bigint[], string_to_array(u, ',')::bigint[] "
     "FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::bigint[], $8::text[], "
     "$9::text[]) AS e(i, n, s, m, p, r, c, u) "
     "ON CONFLICT (sale_id, item_id) DO UPDATE SET remaining_db = excluded.remaining_db, "
     "final_remaining = excluded.final_remaining, counts = excluded.counts, units = excluded.units "
     "WHERE t.final_remaining IS NULL",
     9},
};

#undef FLASHGATE_SALE_COLUMNS


constexpr const char* begin_sql = "BEGIN";
constexpr const char* commit_sql = "COMMIT";

// Text-format parameters; an absent value is SQL NULL.
class Params {
 public:
  Params& text(std::string value) {
    values_.emplace_back(std::move(value));
    return *this;
  }
  Params& integer(std::int64_t value) { return text(std::to_string(value)); }
  Params& optional(const std::optional<std::int64_t>& value) {
    if (!value) {
      values_.emplace_back(std::nullopt);
      return *this;
    }
    return integer(*value);
  }

  Result exec(PGconn* conn, const char* statement) const {
    std::vector<const char*> pointers;
    for (const auto& value : values_) pointers.push_back(value ? value->c_str() : nullptr);
    return Result(
        PQexecPrepared(conn, statement, static_cast<int>(pointers.size()), pointers.data(), nullptr, nullptr, 0));
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A PostgreSQL array literal of text values, each quoted.
std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& value : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string integer_array(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (const auto value : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(value);
  }
  return out + "}";
}

// The parameters insert_sale_items and archive_sale_items both begin with: the sale id, then
// its items' ids, names, stocks, limits and positions as arrays; `item(i)` is the i-th item.
template <class ItemAt>
Params item_arrays(const std::string& sale_id, std::size_t count, ItemAt item) {
  std::vector<std::string> ids, names;
  std::vector<std::int64_t> stocks, limits, positions;
  for (std::size_t i = 0; i < count; ++i) {
    const domain::SaleItem& it = item(i);
    ids.push_back(it.item_id);
    names.push_back(it.name);
    stocks.push_back(it.stock);
    limits.push_back(it.max_per_buyer);
    positions.push_back(static_cast<std::int64_t>(i));
  }
  Params params;
  params.text(sale_id).text(text_array(ids)).text(text_array(names)).text(integer_array(stocks));
  params.text(integer_array(limits)).text(integer_array(positions));
  return params;
}

bool succeeded(const Result& result) {
  const auto status = PQresultStatus(result.get());  // PGRES_FATAL_ERROR for a null result
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

// Keeps a failed result for run() to judge; true if `result` succeeded.
bool check(Result result, Result& failure) {
  if (succeeded(result)) return true;
  failure = std::move(result);
  return false;
}

std::int64_t number_at(const PGresult* result, int row, int column) {
  std::int64_t value = 0;
  const std::string_view text = PQgetvalue(result, row, column);
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<std::int64_t> optional_at(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return std::nullopt;
  return number_at(result, row, column);
}

// A row of FLASHGATE_SALE_COLUMNS.
SaleRecord read_sale(const PGresult* result, int row) {
  SaleRecord record;
  record.sale = domain::Sale{PQgetvalue(result, row, 0), PQgetvalue(result, row, 1), number_at(result, row, 2),
                             optional_at(result, row, 3), optional_at(result, row, 4), number_at(result, row, 5)};
  record.remaining_db = optional_at(result, row, 6);
  record.settled_since = optional_at(result, row, 7);
  record.archived_at = optional_at(result, row, 8);
  // counts, final_remaining, units, max_per_buyer: see FLASHGATE_SALE_COLUMNS.
  const int final_remaining_column = 9 + static_cast<int>(record.counts.size());
  const auto final_remaining = optional_at(result, row, final_remaining_column);
  record.remaining = record.archived_at && final_remaining ? *final_remaining : record.remaining_db.value_or(record.sale.stock);
  for (std::size_t i = 0; i < record.counts.size(); ++i)
    record.counts[i] = static_cast<std::uint64_t>(optional_at(result, row, 9 + static_cast<int>(i)).value_or(0));
  for (std::size_t i = 0; i < record.units.size(); ++i)
    record.units[i] = static_cast<std::uint64_t>(optional_at(result, row, final_remaining_column + 1 + static_cast<int>(i))
                                                     .value_or(static_cast<std::int64_t>(record.counts[i])));
  record.sale.max_per_buyer =
      number_at(result, row, final_remaining_column + 1 + static_cast<int>(record.units.size()));
  return record;
}

// An archived item's counts or units, as array_to_string wrote them (OrderStatus's order).
std::array<std::uint64_t, domain::all_statuses.size()> status_numbers(std::string_view text) {
  std::array<std::uint64_t, domain::all_statuses.size()> numbers{};
  std::size_t i = 0;
  for (std::size_t from = 0; from < text.size() && i < numbers.size(); ++i) {
    const auto comma = std::min(text.find(',', from), text.size());
    std::from_chars(text.data() + from, text.data() + comma, numbers[i]);
    from = comma + 1;
  }
  return numbers;
}

// The items of these sales (sales of several items; the others have none), into their records:
// each one's remaining as read_sale makes the sale's.
bool read_items(PGconn* conn, const std::vector<std::string>& sale_ids, std::span<SaleRecord> records,
                Result& failure) {
  Params params;
  params.text(text_array(sale_ids));
  Result result = params.exec(conn, select_sale_items);
  if (!succeeded(result)) {
    failure = std::move(result);
    return false;
  }
  const PGresult* rows = result.get();
  for (int row = 0; row < PQntuples(rows); ++row) {
    const std::string_view sale_id = PQgetvalue(rows, row, 0);
    for (auto& record : records) {
      if (record.sale.sale_id != sale_id) continue;
      store::ItemView item;
      item.item = domain::SaleItem{PQgetvalue(rows, row, 1), PQgetvalue(rows, row, 2), number_at(rows, row, 3),
                                   number_at(rows, row, 4)};
      item.remaining_db = optional_at(rows, row, 5);
      const auto final_remaining = optional_at(rows, row, 6);
      item.remaining =
          record.archived_at && final_remaining ? *final_remaining : item.remaining_db.value_or(item.item.stock);
      if (record.archived_at) {
        item.counts = status_numbers(PQgetvalue(rows, row, 7));
        item.units = status_numbers(PQgetvalue(rows, row, 8));
      }
      record.sale.items.push_back(item.item);
      record.items.push_back(std::move(item));
    }
  }
  return true;
}

struct ConnectionCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};

}  // namespace

PostgresDatabase::PostgresDatabase(const std::string& url, std::size_t pool_size,
                                   std::chrono::milliseconds acquire_timeout, bool event_outbox)
    : pool_(postgres::ConnectionSettings(url), pool_size, statements, acquire_timeout), event_outbox_(event_outbox) {
  // Not a pooled connection: the pool prepares statements on tables that
  // exist only once this has run.
  std::unique_ptr<PGconn, ConnectionCloser> conn(pool_.settings().connect());
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("postgres " + describe() +
                             ": cannot connect: " + postgres::error_message(conn.get(), nullptr));
  postgres::run_migrations(conn.get(), describe());
  spdlog::info("postgres {}: schema version {}, pool of {} connections", describe(), postgres::latest_schema_version(),
               pool_size);
}

template <class Work>
bool PostgresDatabase::run(const char* what, Work&& work) {
  auto lease = pool_.acquire();
  if (!lease) return false;  // the pool has logged why
  for (int attempt = 0;; ++attempt) {
    Result failure;
    if (work(lease.get(), failure)) return true;
    const bool lost = postgres::is_connection_failure(lease.get(), failure.get());
    spdlog::warn("postgres {}: {} failed{}: {}", describe(), what, lost ? " (connection lost)" : "",
                 postgres::error_message(lease.get(), failure.get()));
    if (!lost || attempt > 0 || !lease.recover()) return false;
  }
}

PostgresDatabase::~PostgresDatabase() {
  for (auto* lock : {&delivery_lock_, &archive_lock_, &archiving_lock_})
    if (lock->connection) PQfinish(lock->connection);
}

bool PostgresDatabase::create_order(const domain::Order& order) {
  Params params;
  params.text(order.order_id).text(order.sale_id).text(order.user_id).integer(domain::now_ms()).text(order.external_id);
  params.integer(order.quantity).text(order.item_id);
  // The window holds the order PROCESSING at `version`; the finish that
  // follows this row makes it CONFIRMED at version + 1 (scripts::finish).
  if (event_outbox_) params.integer(static_cast<std::int64_t>(order.version + 1));
  const char* statement = event_outbox_ ? create_order_with_event : create_order_row;
  return run("create_order",
             [&](PGconn* conn, Result& failure) { return check(params.exec(conn, statement), failure); });
}

bool PostgresDatabase::flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) {
  if (remaining.empty()) return true;
  return run("flush_stock", [&](PGconn* conn, Result& failure) {
    if (!check(Result(PQexec(conn, begin_sql)), failure)) return false;
    for (const auto& [key, value] : remaining) {
      Params params;
      // An item of a sale of several (domain::item_stock_key) has its row in sale_items.
      const auto item = domain::parse_item_stock_key(key);
      if (item) params.text(std::string(item->sale_id)).text(std::string(item->item_id));
      else params.text(key);
      params.integer(value);
      // A failure rolls the lease back.
      if (!check(params.exec(conn, item ? set_item_remaining : set_remaining), failure)) return false;
    }
    return check(Result(PQexec(conn, commit_sql)), failure);
  });
}

std::uint64_t PostgresDatabase::count_orders() {
  std::uint64_t count = 0;
  run("count_orders", [&](PGconn* conn, Result& failure) {
    Result result = Params().exec(conn, count_all_orders);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    const std::string_view text = PQgetvalue(result.get(), 0, 0);
    std::from_chars(text.data(), text.data() + text.size(), count);
    return true;
  });
  return count;
}

bool PostgresDatabase::record_sale(const domain::Sale& sale) {
  Params params;
  params.text(sale.sale_id).text(sale.item).integer(sale.stock).optional(sale.starts_at).optional(sale.ends_at);
  params.integer(sale.created_at).integer(sale.max_per_buyer).integer(sale.buckets);
  if (sale.items.empty())
    return run("record_sale",
               [&](PGconn* conn, Result& failure) { return check(params.exec(conn, insert_sale), failure); });
  const Params items = item_arrays(sale.sale_id, sale.items.size(),
                                   [&](std::size_t i) -> const domain::SaleItem& { return sale.items[i]; });
  // The sale row and its items in one transaction: a reader finds both or neither.
  return run("record_sale", [&](PGconn* conn, Result& failure) {
    if (!check(Result(PQexec(conn, begin_sql)), failure)) return false;
    if (!check(params.exec(conn, insert_sale), failure)) return false;  // the lease rolls back
    if (!check(items.exec(conn, insert_sale_items), failure)) return false;
    return check(Result(PQexec(conn, commit_sql)), failure);
  });
}

namespace {

// The parameters of upsert_outcome(_with_event) for a final status; nullopt for any other.
std::optional<Params> outcome_params(const domain::Order& order, domain::TimeMs now, bool event_outbox) {
  using domain::OrderStatus;
  if (order.status != OrderStatus::paid && order.status != OrderStatus::cancelled &&
      order.status != OrderStatus::failed && order.status != OrderStatus::not_drawn) {
    spdlog::debug("postgres: outcome of {} with status {}: nothing to record", order.order_id,
                  domain::to_string(order.status));
    return std::nullopt;
  }
  Params params;
  params.text(order.order_id)
      .text(order.sale_id)
      .text(order.user_id)
      .text(std::string(domain::to_string(order.status)));
  params.text(order.payment_id).text(order.reason).integer(now).integer(order.updated_at ? order.updated_at : now);
  params.integer(order.quantity).text(order.item_id);
  // NOT_DRAWN is no outcome for the event sink (the shop never saw the order): the plain upsert takes it.
  if (event_outbox && order.status != OrderStatus::not_drawn) params.integer(static_cast<std::int64_t>(order.version)).text(order.external_id);
  return params;
}

const char* outcome_statement(const domain::Order& order, bool event_outbox) {
  return event_outbox && order.status != domain::OrderStatus::not_drawn ? upsert_outcome_with_event : upsert_outcome;
}

}  // namespace

bool PostgresDatabase::record_outcome(const domain::Order& order) {
  const auto params = outcome_params(order, domain::now_ms(), event_outbox_);
  if (!params) return true;
  const char* statement = outcome_statement(order, event_outbox_);
  return run("record_outcome",
             [&](PGconn* conn, Result& failure) { return check(params->exec(conn, statement), failure); });
}

bool PostgresDatabase::record_outcomes(const std::vector<domain::Order>& orders) {
  const domain::TimeMs now = domain::now_ms();
  std::vector<std::pair<Params, const char*>> rows;
  rows.reserve(orders.size());
  for (const auto& order : orders)
    if (auto params = outcome_params(order, now, event_outbox_))
      rows.emplace_back(std::move(*params), outcome_statement(order, event_outbox_));
  if (rows.empty()) return true;
  return run("record_outcomes", [&](PGconn* conn, Result& failure) {
    if (rows.size() == 1) return check(rows.front().first.exec(conn, rows.front().second), failure);  // a transaction of its own
    if (!check(Result(PQexec(conn, begin_sql)), failure)) return false;
    for (const auto& [params, statement] : rows)
      if (!check(params.exec(conn, statement), failure)) return false;  // the lease rolls back
    return check(Result(PQexec(conn, commit_sql)), failure);
  });
}

std::optional<std::string> PostgresDatabase::sale_of_order(const std::string& order_id) {
  std::optional<std::string> sale_id;
  Params params;
  params.text(order_id);
  run("sale_of_order", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, select_sale_of_order);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    if (PQntuples(result.get()) > 0) sale_id = PQgetvalue(result.get(), 0, 0);
    return true;
  });
  return sale_id;
}

std::optional<std::vector<OutboxEvent>> PostgresDatabase::take(std::size_t limit) {
  std::vector<OutboxEvent> events;
  Params params;
  params.integer(static_cast<std::int64_t>(limit));
  const bool ok = run("take events", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, take_events);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    const auto number = [&](int row, int column) {
      std::int64_t value = 0;
      const std::string_view text = PQgetvalue(result.get(), row, column);
      std::from_chars(text.data(), text.data() + text.size(), value);
      return value;
    };
    events.clear();
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      OutboxEvent e;
      e.id = number(row, 0);
      e.order_id = PQgetvalue(result.get(), row, 1);
      e.sale_id = PQgetvalue(result.get(), row, 2);
      e.user_id = PQgetvalue(result.get(), row, 3);
      e.status = PQgetvalue(result.get(), row, 4);
      e.version = static_cast<std::uint64_t>(number(row, 5));
      e.reason = PQgetvalue(result.get(), row, 6);
      e.external_id = PQgetvalue(result.get(), row, 7);
      e.at = number(row, 8);
      e.quantity = number(row, 9);
      e.item_id = PQgetvalue(result.get(), row, 10);
      events.push_back(std::move(e));
    }
    return true;
  });
  if (!ok) return std::nullopt;
  return events;
}

bool PostgresDatabase::delivered(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return true;
  std::string array = "{";
  for (const auto id : ids) array += std::to_string(id) + ",";
  array.back() = '}';
  Params params;
  params.text(std::move(array));
  return run("delete delivered events",
             [&](PGconn* conn, Result& failure) { return check(params.exec(conn, delete_events), failure); });
}

std::optional<std::uint64_t> PostgresDatabase::depth() {
  std::optional<std::uint64_t> count;
  run("count events", [&](PGconn* conn, Result& failure) {
    Result result = Params().exec(conn, count_events);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    std::uint64_t value = 0;
    const std::string_view text = PQgetvalue(result.get(), 0, 0);
    std::from_chars(text.data(), text.data() + text.size(), value);
    count = value;
    return true;
  });
  return count;
}

bool PostgresDatabase::holds_final_orders(const store::SaleView& view) {
  const auto rows = order_counts(view.sale.sale_id);
  if (!rows) return false;
  using domain::OrderStatus;
  for (const auto status : domain::all_statuses) {
    const auto i = static_cast<std::size_t>(status);
    const bool final_status = domain::is_final(status);
    if ((final_status && (*rows)[i] != view.counts[i]) || (!final_status && (*rows)[i] != 0)) {
      spdlog::debug("postgres {}: sale {} has {} {} orders here and {} in the store; its archive waits for them",
                   describe(), view.sale.sale_id, (*rows)[i], domain::to_string(status), view.counts[i]);
      return false;
    }
  }
  return true;
}

std::optional<std::string> PostgresDatabase::record_draw_seed(const std::string& sale_id, const std::string& seed_hex,
                                                              domain::TimeMs seeded_at, std::size_t entrants) {
  std::optional<std::string> stored;
  Params params;
  params.text(sale_id).text(seed_hex).integer(seeded_at).integer(static_cast<std::int64_t>(entrants));
  run("record_draw_seed", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, insert_draw_seed);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    if (PQntuples(result.get()) > 0) stored = PQgetvalue(result.get(), 0, 0);
    return true;
  });
  return stored;
}

bool PostgresDatabase::record_draw_result(const std::string& sale_id, domain::TimeMs drawn_at,
                                          std::span<const domain::DrawEntrant> entrants,
                                          const domain::DrawResult& result) {
  // Batches of parallel arrays: one statement per 5,000 entrants, all in one transaction.
  constexpr std::size_t batch = 5000;
  std::vector<Params> batches;
  for (std::size_t from = 0; from < entrants.size(); from += batch) {
    std::vector<std::string> orders, users;
    std::vector<std::int64_t> quantities, entered, positions;
    for (std::size_t i = from; i < std::min(entrants.size(), from + batch); ++i) {
      orders.push_back(entrants[i].order_id);
      users.push_back(entrants[i].buyer);
      quantities.push_back(entrants[i].quantity);
      entered.push_back(entrants[i].entered_at);
      positions.push_back(result.position[i]);
    }
    Params params;
    params.text(sale_id).text(text_array(orders)).text(text_array(users)).text(integer_array(quantities));
    params.text(integer_array(entered)).text(integer_array(positions));
    batches.push_back(std::move(params));
  }
  Params numbers;
  numbers.text(sale_id).integer(drawn_at).integer(result.admitted).integer(result.units_admitted);
  return run("record_draw_result", [&](PGconn* conn, Result& failure) {
    if (!check(Result(PQexec(conn, begin_sql)), failure)) return false;
    for (const auto& params : batches)
      if (!check(params.exec(conn, insert_draw_entrants), failure)) return false;  // the lease rolls back
    if (!check(numbers.exec(conn, set_draw_result), failure)) return false;
    return check(Result(PQexec(conn, commit_sql)), failure);
  });
}

bool PostgresDatabase::hold_delivery_lock() { return hold(delivery_lock_); }

bool PostgresDatabase::hold_archive_lock() { return hold(archive_lock_); }

bool PostgresDatabase::lock_archive(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!hold(archiving_lock_)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

void PostgresDatabase::unlock_archive() {
  std::lock_guard guard(archiving_lock_.mutex);
  if (!archiving_lock_.held) return;
  archiving_lock_.held = false;
  Result released(PQexec(archiving_lock_.connection, "SELECT pg_advisory_unlock(7378973658391800193)"));
  if (succeeded(released)) return;
  // The lock goes with its connection.
  spdlog::warn("postgres {}: cannot release the archive lock ({}); closing its connection", describe(),
               postgres::error_message(archiving_lock_.connection, released.get()));
  PQfinish(archiving_lock_.connection);
  archiving_lock_.connection = nullptr;
}

bool PostgresDatabase::hold(SessionLock& lock) {
  std::lock_guard guard(lock.mutex);
  // Held: the connection must still be alive, or another worker may have it by now.
  if (lock.held) {
    Result alive(PQexec(lock.connection, "SELECT 1"));
    if (succeeded(alive)) return true;
    spdlog::warn("postgres {}: the {} lock's connection is lost: {}", describe(), lock.name,
                 postgres::error_message(lock.connection, alive.get()));
    lock.held = false;
    PQfinish(lock.connection);
    lock.connection = nullptr;
  }
  if (!lock.connection) {
    lock.connection = pool_.settings().connect();
    if (PQstatus(lock.connection) != CONNECTION_OK) {
      PQfinish(lock.connection);
      lock.connection = nullptr;
      return false;
    }
  }
  Result taken(PQexec(lock.connection, lock.sql));
  if (!succeeded(taken)) {
    PQfinish(lock.connection);
    lock.connection = nullptr;
    return false;
  }
  lock.held = std::string_view(PQgetvalue(taken.get(), 0, 0)) == "t";
  return lock.held;
}

bool PostgresDatabase::archive_sale(const store::SaleView& final_numbers, domain::TimeMs at) {
  const auto& sale = final_numbers.sale;
  Params params;
  params.text(sale.sale_id).text(sale.item).integer(sale.stock).optional(sale.starts_at).optional(sale.ends_at);
  params.integer(sale.created_at).integer(final_numbers.remaining).integer(at);
  for (const auto count : final_numbers.counts) params.integer(static_cast<std::int64_t>(count));
  for (const auto units : final_numbers.units) params.integer(static_cast<std::int64_t>(units));
  params.integer(sale.max_per_buyer);
  if (final_numbers.items.empty())
    return run("archive_sale",
               [&](PGconn* conn, Result& failure) { return check(params.exec(conn, archive_sale_row), failure); });
  const auto joined = [](const auto& numbers) {
    std::string out;
    for (const auto n : numbers) out += (out.empty() ? "" : ",") + std::to_string(n);
    return out;
  };
  std::vector<std::string> counts, units;
  std::vector<std::int64_t> remaining;
  for (const auto& item : final_numbers.items) {
    remaining.push_back(item.remaining);
    counts.push_back(joined(item.counts));
    units.push_back(joined(item.units));
  }
  Params items = item_arrays(sale.sale_id, final_numbers.items.size(),
                             [&](std::size_t i) -> const domain::SaleItem& { return final_numbers.items[i].item; });
  items.text(integer_array(remaining)).text(text_array(counts)).text(text_array(units));
  // The items' final numbers commit with the sale's.
  return run("archive_sale", [&](PGconn* conn, Result& failure) {
    if (!check(Result(PQexec(conn, begin_sql)), failure)) return false;
    if (!check(params.exec(conn, archive_sale_row), failure)) return false;  // the lease rolls back
    if (!check(items.exec(conn, archive_sale_items), failure)) return false;
    return check(Result(PQexec(conn, commit_sql)), failure);
  });
}

bool PostgresDatabase::mark_settled(const std::string& sale_id, std::optional<domain::TimeMs> since) {
  Params params;
  params.text(sale_id).optional(since);
  bool changed = false;
  const bool ok = run("mark_settled", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, set_settled_since);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    changed = std::string_view(PQcmdTuples(result.get())) != "0";
    return true;
  });
  return ok && changed;
}

std::optional<SaleRecord> PostgresDatabase::find_sale(const std::string& sale_id) {
  std::optional<SaleRecord> found;
  Params params;
  params.text(sale_id);
  run("find_sale", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, select_sale);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    if (PQntuples(result.get()) > 0) found = read_sale(result.get(), 0);
    return !found || read_items(conn, {found->sale.sale_id}, std::span(&*found, 1), failure);
  });
  return found;
}

std::vector<SaleRecord> PostgresDatabase::list_sales(const std::string& after_sale_id, std::size_t limit) {
  std::vector<SaleRecord> sales;
  Params params;
  params.text(after_sale_id).integer(static_cast<std::int64_t>(limit));
  run("list_sales", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, select_sales_after);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    sales.clear();
    std::vector<std::string> ids;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      sales.push_back(read_sale(result.get(), row));
      ids.push_back(sales.back().sale.sale_id);
    }
    return sales.empty() || read_items(conn, ids, sales, failure);
  });
  return sales;
}

std::vector<std::string> PostgresDatabase::archived_sale_ids() {
  std::vector<std::string> ids;
  run("archived_sale_ids", [&](PGconn* conn, Result& failure) {
    Result result = Params().exec(conn, select_archived_ids);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    ids.clear();
    for (int row = 0; row < PQntuples(result.get()); ++row) ids.emplace_back(PQgetvalue(result.get(), row, 0));
    return true;
  });
  return ids;
}

std::optional<std::array<std::uint64_t, domain::all_statuses.size()>> PostgresDatabase::order_counts(
    const std::string& sale_id) {
  std::array<std::uint64_t, domain::all_statuses.size()> counts{};
  Params params;
  params.text(sale_id);
  const bool ok = run("order_counts", [&](PGconn* conn, Result& failure) {
    Result result = params.exec(conn, count_sale_orders);
    if (!succeeded(result)) {
      failure = std::move(result);
      return false;
    }
    counts = {};
    for (int row = 0; row < PQntuples(result.get()); ++row)
      if (const auto status = domain::parse_status(PQgetvalue(result.get(), row, 0)))
        counts[static_cast<std::size_t>(*status)] = static_cast<std::uint64_t>(number_at(result.get(), row, 1));
    return true;
  });
  if (!ok) return std::nullopt;
  return counts;
}


}  // namespace flashgate::database
