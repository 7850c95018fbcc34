#include "database/postgres/connection_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <string_view>

namespace flashgate::database::postgres {
namespace {

// Bounds on every wait, used only where the URL says nothing: a dead server
// or a silent network fails a call in seconds instead of hanging a window.
constexpr std::pair<const char*, const char*> default_settings[] = {
    {"connect_timeout", "5"},
    {"keepalives", "1"},
    {"keepalives_idle", "10"},
    {"keepalives_interval", "5"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "30000"},
    {"fallback_application_name", "flashgate"},
};

// Per session, so set again after every reconnect. A call answers true only
// once its write is on disk, whatever the server's default synchronous_commit.
constexpr const char* session_setup_sql =
    "SET statement_timeout = '10s'; SET lock_timeout = '5s'; SET synchronous_commit = on";

// Server notices ("relation already exists, skipping") are not errors: keep
// them out of stderr.
void log_notice(void*, const char* message) {
  std::string_view text = message;
  while (text.ends_with('\n')) text.remove_suffix(1);
  spdlog::debug("postgres notice: {}", text);
}

}  // namespace

ConnectionSettings::ConnectionSettings(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (!options) {
    PQfreemem(error);  // may quote the URL, password included
    throw std::invalid_argument("invalid PostgreSQL URL");
  }
  std::string host, port, dbname;
  for (const PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    settings_.emplace_back(o->keyword, o->val);
    const std::string_view keyword = o->keyword;
    if (keyword == "host" || (keyword == "hostaddr" && host.empty())) host = o->val;
    if (keyword == "port") port = o->val;
    if (keyword == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  for (const auto& setting : default_settings) {
    // (Not a structured binding: clang 14 cannot capture those in a lambda.)
    const bool given =
        std::any_of(settings_.begin(), settings_.end(), [&](const auto& s) { return s.first == setting.first; });
    if (!given) settings_.emplace_back(setting.first, setting.second);
  }
  description_ = (host.empty() ? "localhost" : host) + (port.empty() ? "" : ":" + port) + "/" + dbname;
}

PGconn* ConnectionSettings::connect() const {
  std::vector<const char*> keywords, values;
  for (const auto& [keyword, value] : settings_) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 0);
  if (conn) PQsetNoticeProcessor(conn, log_notice, nullptr);
  return conn;
}

std::string error_message(PGconn* conn, const PGresult* result) {
  std::string raw = result ? PQresultErrorMessage(result) : "";
  if (raw.empty() && conn) raw = PQerrorMessage(conn);
  std::string text;
  for (const char c : raw) {  // libpq's messages span lines, with tabs for the hints
    if (c == '\n' || c == '\t') {
      if (!text.empty() && text.back() != ' ') text += ' ';
    } else {
      text += c;
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

bool is_connection_failure(PGconn* conn, const PGresult* result) {
  if (PQstatus(conn) != CONNECTION_OK || !result) return true;
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  if (!state) return true;  // libpq's own error, not the server's: the link or the protocol
  const std::string_view code = state;
  // Class 08: connection exception; 57P0x: the server is shutting down or starting.
  return code.starts_with("08") || code.starts_with("57P");
}

ConnectionPool::Lease::~Lease() {
  if (!pool_) return;
  auto& slot = pool_->slots_[slot_];
  // A connection goes back idle; one left inside a transaction is rolled back
  // so that the next borrower does not inherit half of someone's work.
  if (slot.ready && PQtransactionStatus(slot.conn) != PQTRANS_IDLE) {
    Result rollback(PQexec(slot.conn, "ROLLBACK"));
    if (PQresultStatus(rollback.get()) != PGRES_COMMAND_OK) slot.ready = false;
  }
  pool_->release(slot_);
}

PGconn* ConnectionPool::Lease::get() const { return pool_->slots_[slot_].conn; }

bool ConnectionPool::Lease::recover() {
  auto& slot = pool_->slots_[slot_];
  slot.ready = false;
  return pool_->make_ready(slot);
}

ConnectionPool::ConnectionPool(ConnectionSettings settings, std::size_t size,
                               std::span<const PreparedStatement> statements, std::chrono::milliseconds acquire_timeout)
    : settings_(std::move(settings)),
      statements_(statements),
      acquire_timeout_(acquire_timeout),
      slots_(std::max<std::size_t>(size, 1)) {
  for (std::size_t i = slots_.size(); i-- > 0;) free_.push_back(i);
}

ConnectionPool::~ConnectionPool() {
  for (auto& slot : slots_)
    if (slot.conn) PQfinish(slot.conn);
}

ConnectionPool::Lease ConnectionPool::acquire() {
  std::size_t index = 0;
  {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_for(lock, acquire_timeout_, [this] { return !free_.empty(); })) {
      spdlog::warn("postgres {}: no connection free within {} ms", settings_.describe(), acquire_timeout_.count());
      return {};
    }
    index = free_.back();  // the most recently used: warm, and the others may stay unopened
    free_.pop_back();
  }
  Lease lease(this, index);  // gives the slot back on every path
  if (!make_ready(slots_[index])) return {};
  return lease;
}

bool ConnectionPool::make_ready(Slot& slot) {
  if (slot.ready && PQstatus(slot.conn) == CONNECTION_OK) return true;
  slot.ready = false;
  // Broken, or never set up: start from a fresh connection rather than
  // guess which of its statements survived.
  if (slot.conn) PQfinish(slot.conn);
  slot.conn = settings_.connect();
  if (PQstatus(slot.conn) != CONNECTION_OK) {
    if (!slot.failing)
      spdlog::warn("postgres {}: cannot connect: {}", settings_.describe(), error_message(slot.conn, nullptr));
    slot.failing = true;
    return false;
  }
  if (!prepare(slot)) {
    slot.failing = true;
    return false;
  }
  if (slot.failing) spdlog::info("postgres {}: connected again", settings_.describe());
  slot.failing = false;
  slot.ready = true;
  return true;
}

bool ConnectionPool::prepare(Slot& slot) {
  Result setup(PQexec(slot.conn, session_setup_sql));
  if (PQresultStatus(setup.get()) != PGRES_COMMAND_OK) {
    spdlog::warn("postgres {}: cannot set up the session: {}", settings_.describe(), error_message(slot.conn, nullptr));
    return false;
  }
  for (const auto& statement : statements_) {
    Result prepared(PQprepare(slot.conn, statement.name, statement.sql, statement.parameters, nullptr));
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      spdlog::error("postgres {}: cannot prepare {}: {}", settings_.describe(), statement.name,
                    error_message(slot.conn, nullptr));
      return false;
    }
  }
  return true;
}

void ConnectionPool::release(std::size_t slot) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(slot);
  }
  freed_.notify_one();
}

}  // namespace flashgate::database::postgres
