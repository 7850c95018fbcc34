#pragma once
// Moves settled sales out of the hot store (issue #23): the worker's periodic
// archiver, and the admin call's archive-now. The database is the commit
// point; the order of an archive is
//   1. the system of record holds every order of the sale in its final status,
//   2. OrderDatabase::archive_sale writes the final numbers and archived_at,
//   3. StockLedger::drop_sale removes the sale and its orders from the store.
// A crash between 2 and 3 is finished by the next round, which drops every
// sale the database says archived and the store still holds.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "database/order_database.hpp"
#include "domain/errors.hpp"
#include "domain/time.hpp"
#include "metrics/registry.hpp"
#include "store/stock_ledger.hpp"

namespace flashgate::worker {

struct ArchiverSettings {
  std::int64_t archive_after_ms = 0;
  // Step 1: true once the system of record holds every final outcome of the
  // sale. Embedded it always does (the journal is the system of record); a
  // deployment whose outcomes reach the database in the background says so here.
  std::function<bool(const store::SaleView&)> outcomes_recorded;
  // Told after step 2, before the store forgets the sale: the gateway's set of
  // archived sale ids learns it before any request can miss the sale.
  std::function<void(const std::string& sale_id)> archived;
  // Whether this process runs the periodic round now (one worker of a
  // deployment at a time); empty: always.
  std::function<bool()> leadership;
  // The deployment's archive lock, held around each archive (steps 1-3) so
  // that a gateway's admin call and a worker's round never archive at once:
  // true once taken within `wait`; empty (one process owns its store): none.
  std::function<bool(std::chrono::milliseconds wait)> lock_archive;
  std::function<void()> unlock_archive;
};

class Archiver {
 public:
  Archiver(store::StockLedger& ledger, database::OrderDatabase& database, metrics::Registry& metrics,
           ArchiverSettings settings);

  // One round of the periodic task: finishes interrupted archives, records
  // or clears when sales became settled, archives those due.
  void run_round(domain::TimeMs now);

  // The admin call: archives the sale at once if it is settled. The record
  // of an archived sale (also when it was archived before); sale_active with
  // the reason if it is not settled; sale_not_found; unavailable if the
  // database or the store could not do their part (nothing half done stays:
  // the next round finishes it), or if another process held the archive
  // lock for all of admin_lock_wait.
  domain::Result<database::SaleRecord> archive_now(const std::string& sale_id, domain::TimeMs now);

  // Long enough for another process to finish an archive of a few thousand
  // orders; an admin call waits no longer, it is answered 503 with Retry-After.
  static constexpr std::chrono::milliseconds admin_lock_wait{3'000};

 private:
  // Steps 1-3 for a sale the caller found settled.
  domain::Result<database::SaleRecord> archive(const store::SaleView& view, domain::TimeMs now);
  domain::Result<store::Empty> drop(const std::string& sale_id);
  void track_settled(const store::SaleView& view, bool settled, domain::TimeMs now);
  bool lock_archive(std::chrono::milliseconds wait);
  void unlock_archive();

  store::StockLedger& ledger_;
  database::OrderDatabase& database_;
  ArchiverSettings settings_;
  metrics::Counter& archived_total_;
  std::mutex mutex_;  // one archive at a time in this process (the round and admin calls)
  // What the database holds as each live sale's settled_since, read once per
  // sale: a round writes only changes.
  std::map<std::string, std::optional<domain::TimeMs>> settled_since_;
};

}  // namespace flashgate::worker
