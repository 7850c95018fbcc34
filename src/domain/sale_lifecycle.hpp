#pragma once
// When a sale is over for good, and when it may leave the hot store.
//
// A sale is *settled* when no intake can change it any more (it has ended,
// or no stock is left) and none of its orders can move any more (every one
// is PAID, FAILED or CANCELLED). Both halves are stable: a settled sale
// stays settled, so archiving one races with nothing.
#include <array>
#include <cstdint>
#include <optional>

#include "domain/errors.hpp"
#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

using StatusCounts = std::array<std::uint64_t, all_statuses.size()>;  // indexed by OrderStatus

enum class SaleActivity {
  settled,
  open_with_stock,     // not ended and stock left: intakes may still come
  orders_not_final,    // some order is ENTERED, QUEUED, PROCESSING or CONFIRMED
};

SaleActivity sale_activity(const Sale& sale, std::int64_t remaining, const StatusCounts& counts, TimeMs now);
inline bool is_settled(const Sale& sale, std::int64_t remaining, const StatusCounts& counts, TimeMs now) {
  return sale_activity(sale, remaining, counts, now) == SaleActivity::settled;
}

// The 409 sale_active answer for a sale that is not settled, saying why.
Error sale_active_error(SaleActivity activity);

// The archiver's decision, given when it first saw the sale settled.
inline bool archive_due(TimeMs settled_since, TimeMs now, std::int64_t archive_after_ms) {
  return now - settled_since >= archive_after_ms;
}

// The retention must outlive every ticket and every unpaid order: a ticket
// (ttl) issued for an order confirmed just before the sale settled may be
// used until ttl after it, and payment of a CONFIRMED order is awaited for
// payment_timeout; so no valid ticket can name an archived order.
std::int64_t min_archive_after_ms(std::int64_t ticket_ttl_ms, std::int64_t payment_timeout_ms);
std::optional<Error> validate_archive_after(std::int64_t archive_after_ms, std::int64_t ticket_ttl_ms,
                                            std::int64_t payment_timeout_ms);

inline constexpr std::int64_t default_archive_after_ms = 24LL * 3600 * 1000;

}  // namespace flashgate::domain
