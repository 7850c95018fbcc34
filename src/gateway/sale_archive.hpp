#pragma once
// What a gateway knows of archived sales (issue #23): the set of their ids,
// loaded at start and told of every archive, and a thread of its own for the
// blocking work behind the admin calls (database reads, an archive). Only
// requests about a sale the store does not hold consult the set, so a live
// sale's intakes and polls never touch it.
#include <condition_variable>
#include <deque>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "database/order_database.hpp"
#include "domain/errors.hpp"
#include "domain/time.hpp"

namespace flashgate::gateway {

class SaleArchive {
 public:
  using ArchiveNow = std::function<domain::Result<database::SaleRecord>(const std::string& sale_id, domain::TimeMs now)>;
  // `database`: null in a process without the order database (then the
  // admin reads answer unavailable); `archive_now`: empty where this process
  // cannot archive.
  SaleArchive(database::OrderDatabase* database, ArchiveNow archive_now);
  ~SaleArchive();
  SaleArchive(const SaleArchive&) = delete;
  SaleArchive& operator=(const SaleArchive&) = delete;

  // Reads the archived ids from the database (start, and refreshes).
  void load();
  void add(const std::string& sale_id);
  bool is_archived(const std::string& sale_id) const;

  database::OrderDatabase* database() const { return database_; }
  const ArchiveNow& archive_now() const { return archive_now_; }

  // Runs blocking `work` on the archive's thread; false (and it never runs)
  // when too much is queued already or the thread stopped.
  bool run(std::function<void()> work);
  void stop();

  static constexpr std::size_t max_queued = 64;

 private:
  database::OrderDatabase* database_;
  ArchiveNow archive_now_;
  mutable std::shared_mutex ids_mutex_;
  std::unordered_set<std::string> ids_;
  std::mutex work_mutex_;
  std::condition_variable work_wake_;
  std::deque<std::function<void()>> work_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flashgate::gateway
