#pragma once
// The system of record: where windows create real orders and where stock is
// flushed. Calls block; they are made by worker threads, never by the gateway.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "store/views.hpp"

namespace flashgate::database {

// A sale as the system of record knows it: while live, what was last flushed
// (remaining is remaining_db or, never flushed, the stock); once archived,
// the final numbers written by archive_sale.
struct SaleRecord {
  domain::Sale sale;
  std::int64_t remaining = 0;
  std::optional<std::int64_t> remaining_db;
  std::array<std::uint64_t, domain::all_statuses.size()> counts{};  // final counts; zero while live
  // Final units by status (orders of several units count each); archives made
  // before units were recorded read their counts (every order was one unit).
  std::array<std::uint64_t, domain::all_statuses.size()> units{};
  // A sale of several items (sale.items): each one's remaining as remaining is
  // the sale's (remaining_db while live, final once archived), in the sale's
  // order; counts and units are the final ones of an archive (zero while live).
  std::vector<store::ItemView> items;
  std::optional<domain::TimeMs> settled_since;  // the archiver first saw it settled
  std::optional<domain::TimeMs> archived_at;
};

class OrderDatabase {
 public:
  virtual ~OrderDatabase() = default;
  // Creates the order row once (idempotent on order_id); true once it exists
  // durably, false if the database could not be written.
  virtual bool create_order(const domain::Order& order) = 0;
  virtual bool flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) = 0;
  virtual std::uint64_t count_orders() = 0;
  // The sale's row, once (idempotent on sale_id).
  virtual bool record_sale(const domain::Sale& sale) = 0;
  // A final status (PAID with its payment id, CANCELLED, FAILED) on the order
  // row; idempotent, and a row already final is left as it is.
  virtual bool record_outcome(const domain::Order& order) = 0;
  // Several outcomes, each recorded as record_outcome records it; true once
  // every one is written. A database that can, writes them in one
  // transaction (all or none: a failed call may simply be made again); this
  // default makes one call each.
  virtual bool record_outcomes(const std::vector<domain::Order>& orders) {
    for (const auto& order : orders)
      if (!record_outcome(order)) return false;
    return true;
  }

  // --- sale life cycle (see domain/sale_lifecycle.hpp and the archiver) ---
  // The commit point of an archive: in one transaction, the sale's final
  // numbers (remaining, counts per status) and archived_at. Idempotent: a
  // second call keeps the first numbers and time. False if not written.
  virtual bool archive_sale(const store::SaleView& final_numbers, domain::TimeMs at) = 0;
  // Records when the archiver first saw the sale settled (nullopt: clears it).
  virtual bool mark_settled(const std::string& sale_id, std::optional<domain::TimeMs> since) = 0;
  virtual std::optional<SaleRecord> find_sale(const std::string& sale_id) = 0;
  // Sales (live and archived) with sale_id > after_sale_id, ordered by sale_id.
  virtual std::vector<SaleRecord> list_sales(const std::string& after_sale_id, std::size_t limit) = 0;
  virtual std::vector<std::string> archived_sale_ids() = 0;
  // The sale of an order the store no longer has (a payment of an archived
  // order); nullopt if unknown or not implemented by this database.
  virtual std::optional<std::string> sale_of_order(const std::string& /*order_id*/) { return std::nullopt; }
  // After an archive, before the store gives its memory back: what this
  // process's caches of the database filled while the sale ran goes too
  // (SQLite's page cache, 2 MB). The default holds none.
  virtual void release_memory() {}
};

}  // namespace flashgate::database
