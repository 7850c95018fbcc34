#pragma once
// A bounded pool of libpq connections, each with the same statements
// prepared. A caller borrows one connection (a Lease) for one unit of work;
// a connection found broken is reset and its statements prepared again on
// the next borrow, so a PostgreSQL restart heals without restarting us.
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace flashgate::database::postgres {

struct PreparedStatement {
  const char* name;
  const char* sql;
  int parameters;
};

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Parsed connection settings. Parsing up front means a malformed URL is
// refused without libpq echoing pieces of it (a password) into a message.
class ConnectionSettings {
 public:
  // Throws std::invalid_argument (without the URL's text) if libpq cannot parse it.
  explicit ConnectionSettings(const std::string& url);

  // A new blocking connection; check PQstatus. Never null.
  PGconn* connect() const;
  // host:port/dbname, for logs: never the user's password.
  const std::string& describe() const { return description_; }

 private:
  std::vector<std::pair<std::string, std::string>> settings_;
  std::string description_;
};

// libpq's message for a failed command (`result` may be null), on one line.
std::string error_message(PGconn* conn, const PGresult* result);

// True if the failure of a command on `conn` (with `result`, possibly null)
// means the connection itself is gone, rather than the statement failing.
bool is_connection_failure(PGconn* conn, const PGresult* result);

class ConnectionPool {
 public:
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), slot_(other.slot_) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    explicit operator bool() const { return pool_ != nullptr; }
    PGconn* get() const;
    // After a connection failure: reset it now and prepare again. True if it
    // is usable again (the caller may retry once on it).
    bool recover();

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::size_t slot) : pool_(pool), slot_(slot) {}
    ConnectionPool* pool_ = nullptr;
    std::size_t slot_ = 0;
  };

  ConnectionPool(ConnectionSettings settings, std::size_t size, std::span<const PreparedStatement> statements,
                 std::chrono::milliseconds acquire_timeout);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A ready connection, or an empty lease if none was free within the
  // acquire timeout or the server cannot be reached now.
  Lease acquire();

  const ConnectionSettings& settings() const { return settings_; }

 private:
  struct Slot {
    PGconn* conn = nullptr;  // opened lazily, on first borrow
    bool ready = false;      // session set up and statements prepared
    bool failing = false;    // an outage was logged; log the recovery once
  };

  bool make_ready(Slot& slot);
  bool prepare(Slot& slot);
  void release(std::size_t slot);

  ConnectionSettings settings_;
  std::span<const PreparedStatement> statements_;
  std::chrono::milliseconds acquire_timeout_;
  std::vector<Slot> slots_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::size_t> free_;
};

}  // namespace flashgate::database::postgres
