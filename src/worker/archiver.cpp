#include "worker/archiver.hpp"

#include <spdlog/spdlog.h>

#include <set>

#include "domain/sale_lifecycle.hpp"

namespace flashgate::worker {

using domain::ErrorCode;

namespace {

const domain::Error database_unavailable{ErrorCode::unavailable, "the database could not be written; try again shortly"};

std::optional<store::SaleView> find_view(store::StockLedger& ledger, const std::string& sale_id) {
  for (auto& view : ledger.sale_views())
    if (view.sale.sale_id == sale_id) return std::move(view);
  return std::nullopt;
}

}  // namespace

Archiver::Archiver(store::StockLedger& ledger, database::OrderDatabase& database, metrics::Registry& metrics,
                   ArchiverSettings settings)
    : ledger_(ledger),
      database_(database),
      settings_(std::move(settings)),
      archived_total_(metrics.counter("flashgate_sales_archived_total",
                                      "Sales archived: their orders left the store, the database keeps them")) {}

domain::Result<store::Empty> Archiver::drop(const std::string& sale_id) {
  auto dropped = ledger_.drop_sale(sale_id);
  if (!dropped) spdlog::warn("archive of sale {}: the store kept it ({}); the next round tries again", sale_id,
                             dropped.error().message);
  settled_since_.erase(sale_id);
  return dropped;
}

domain::Result<database::SaleRecord> Archiver::archive(const store::SaleView& view, domain::TimeMs now) {
  const auto& sale_id = view.sale.sale_id;
  if (settings_.outcomes_recorded && !settings_.outcomes_recorded(view))
    return domain::Error{ErrorCode::unavailable, "the sale's outcomes are still on their way to the database"};
  if (!database_.archive_sale(view, now)) return database_unavailable;
  if (settings_.archived) settings_.archived(sale_id);
  database_.release_memory();  // before the store's drop, which hands what is free back to the system
  auto dropped = drop(sale_id);
  if (!dropped) return dropped.error();
  archived_total_.inc();
  auto record = database_.find_sale(sale_id);
  if (!record) return database_unavailable;
  spdlog::info("sale {} archived: {} orders left the store", sale_id,
               [&] {
                 std::uint64_t n = 0;
                 for (auto c : record->counts) n += c;
                 return n;
               }());
  return std::move(*record);
}

bool Archiver::lock_archive(std::chrono::milliseconds wait) {
  return !settings_.lock_archive || settings_.lock_archive(wait);
}

void Archiver::unlock_archive() {
  if (settings_.unlock_archive) settings_.unlock_archive();
}

domain::Result<database::SaleRecord> Archiver::archive_now(const std::string& sale_id, domain::TimeMs now) {
  std::lock_guard lock(mutex_);
  // Looked at twice: first to answer 404 and 409 without waiting for the
  // lock, then under it, since another process may have archived it meanwhile.
  const auto settled_view = [&]() -> domain::Result<store::SaleView> {
    auto view = find_view(ledger_, sale_id);
    if (!view) {
      auto record = database_.find_sale(sale_id);
      if (record && record->archived_at) return domain::Error{ErrorCode::sale_archived, ""};
      return domain::Error{ErrorCode::sale_not_found, "no sale with this id"};
    }
    const auto activity = domain::sale_activity(view->sale, view->remaining, view->counts, now);
    if (activity != domain::SaleActivity::settled) return domain::sale_active_error(activity);
    return std::move(*view);
  };
  const auto archived_before = [&]() -> domain::Result<database::SaleRecord> {
    auto record = database_.find_sale(sale_id);  // the same answer as the archive gave
    if (record && record->archived_at) return std::move(*record);
    return database_unavailable;
  };
  auto view = settled_view();
  if (!view && view.error().code == ErrorCode::sale_archived) return archived_before();
  if (!view) return view.error();
  if (!lock_archive(admin_lock_wait))
    return domain::Error{ErrorCode::unavailable, "another flashgate process is archiving a sale; retry shortly"};
  view = settled_view();
  domain::Result<database::SaleRecord> done = database_unavailable;
  if (view) done = archive(view.value(), now);  // archive_sale keeps the numbers of an archive a crash cut short
  else if (view.error().code == ErrorCode::sale_archived) done = archived_before();
  else done = view.error();
  unlock_archive();
  return done;
}

void Archiver::track_settled(const store::SaleView& view, bool settled, domain::TimeMs now) {
  const auto& sale_id = view.sale.sale_id;
  auto known = settled_since_.find(sale_id);
  if (known == settled_since_.end()) {
    auto record = database_.find_sale(sale_id);
    if (!record) return;  // not in the database yet (or unreadable): next round
    known = settled_since_.emplace(sale_id, record->settled_since).first;
  }
  if (settled == known->second.has_value()) return;
  const std::optional<domain::TimeMs> since = settled ? std::optional(now) : std::nullopt;
  if (database_.mark_settled(sale_id, since)) known->second = since;
}

void Archiver::run_round(domain::TimeMs now) {
  if (settings_.leadership && !settings_.leadership()) return;
  std::lock_guard lock(mutex_);
  // Taken at the round's first archive, not waited for: an admin call that
  // holds it is archiving, and the next round does what this one leaves.
  enum class Exclusive { untried, held, busy } exclusive = Exclusive::untried;
  const auto exclusive_now = [&] {
    if (exclusive == Exclusive::untried) exclusive = lock_archive(std::chrono::milliseconds(0)) ? Exclusive::held : Exclusive::busy;
    return exclusive == Exclusive::held;
  };
  struct Release {
    Archiver& archiver;
    const Exclusive& exclusive;
    ~Release() {
      if (exclusive == Exclusive::held) archiver.unlock_archive();
    }
  } release{*this, exclusive};
  auto views = ledger_.sale_views();
  std::set<std::string> held;
  for (const auto& view : views) held.insert(view.sale.sale_id);
  // Archives a crash or a dead worker left between the database and the store.
  std::set<std::string> archived;
  for (auto& sale_id : database_.archived_sale_ids()) {
    if (held.contains(sale_id) && exclusive_now() && drop(sale_id))
      spdlog::info("sale {}: an interrupted archive finished", sale_id);
    archived.insert(std::move(sale_id));
  }
  for (const auto& view : views) {
    if (archived.contains(view.sale.sale_id)) continue;
    const bool settled = domain::is_settled(view.sale, view.remaining, view.counts, now);
    track_settled(view, settled, now);
    const auto since = settled_since_.find(view.sale.sale_id);
    if (!settled || since == settled_since_.end() || !since->second) continue;
    if (!domain::archive_due(*since->second, now, settings_.archive_after_ms)) continue;
    if (!exclusive_now()) {
      spdlog::debug("archive of sale {} waits: another process is archiving", view.sale.sale_id);
      continue;
    }
    if (auto done = archive(view, now); !done)
      spdlog::warn("archive of sale {} postponed: {}", view.sale.sale_id, done.error().message);
  }
}

}  // namespace flashgate::worker
