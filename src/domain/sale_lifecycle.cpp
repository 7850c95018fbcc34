#include "domain/sale_lifecycle.hpp"

#include <string>

namespace flashgate::domain {

SaleActivity sale_activity(const Sale& sale, std::int64_t remaining, const StatusCounts& counts, TimeMs now) {
  for (auto status : all_statuses)
    if (!is_final(status) && counts[static_cast<std::size_t>(status)] > 0) return SaleActivity::orders_not_final;
  const bool ended = sale.ends_at && now >= *sale.ends_at;
  if (!ended && remaining > 0) return SaleActivity::open_with_stock;
  return SaleActivity::settled;
}

Error sale_active_error(SaleActivity activity) {
  switch (activity) {
    case SaleActivity::orders_not_final:
      return {ErrorCode::sale_active, "the sale has orders that are not final yet (ENTERED, QUEUED, PROCESSING or CONFIRMED)"};
    case SaleActivity::open_with_stock:
      return {ErrorCode::sale_active, "the sale has not ended and still has stock"};
    case SaleActivity::settled: break;
  }
  return {ErrorCode::internal, "the sale is settled"};
}

std::int64_t min_archive_after_ms(std::int64_t ticket_ttl_ms, std::int64_t payment_timeout_ms) {
  return ticket_ttl_ms + payment_timeout_ms;
}

std::optional<Error> validate_archive_after(std::int64_t archive_after_ms, std::int64_t ticket_ttl_ms,
                                            std::int64_t payment_timeout_ms) {
  const auto least = min_archive_after_ms(ticket_ttl_ms, payment_timeout_ms);
  if (archive_after_ms < least)
    return Error{ErrorCode::invalid_request, "archive_after must be at least the ticket TTL plus the payment timeout (" +
                                                 std::to_string(least) + " ms), so no valid ticket names an archived order"};
  return std::nullopt;
}

}  // namespace flashgate::domain
