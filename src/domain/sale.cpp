#include "domain/sale.hpp"

#include "domain/ids.hpp"

namespace flashgate::domain {

std::string_view to_string(SaleState s) {
  switch (s) {
    case SaleState::upcoming: return "upcoming";
    case SaleState::open: return "open";
    case SaleState::sold_out: return "sold_out";
    case SaleState::ended: return "ended";
  }
  return "ended";
}

SaleState sale_state(const Sale& sale, std::int64_t remaining, TimeMs now) {
  if (sale.ends_at && now >= *sale.ends_at) return SaleState::ended;
  if (sale.starts_at && now < *sale.starts_at) return SaleState::upcoming;
  if (remaining <= 0) return SaleState::sold_out;
  return SaleState::open;
}

std::optional<ErrorCode> window_refusal(const Sale& sale, TimeMs now) {
  if (sale.ends_at && now >= *sale.ends_at) return ErrorCode::sale_ended;
  if (sale.starts_at && now < *sale.starts_at) return ErrorCode::sale_not_open;
  return std::nullopt;
}

std::optional<Error> quantity_refusal(const Sale& sale, std::int64_t quantity, std::int64_t held,
                                      std::int64_t remaining) {
  if (quantity < 1 || quantity > sale.max_per_buyer) return refusal(ErrorCode::invalid_request);
  if (remaining <= 0) return refusal(ErrorCode::sold_out);
  if (held + quantity > sale.max_per_buyer) return refusal(ErrorCode::buyer_limit_reached);
  if (remaining < quantity) return not_enough_stock(remaining);
  return std::nullopt;
}

std::optional<Error> validate_new_sale(const Sale& sale) {
  if (!is_valid_id(sale.sale_id))
    return Error{ErrorCode::invalid_request, "sale_id must be 1-64 characters of [A-Za-z0-9._:-]"};
  if (sale.item.empty() || sale.item.size() > max_item_length)
    return Error{ErrorCode::invalid_request, "item must be a non-empty string of at most 256 bytes"};
  if (sale.stock < 0 || sale.stock > max_stock)
    return Error{ErrorCode::invalid_request, "stock must be an integer from 0 to 1000000000"};
  if (sale.max_per_buyer < 1 || sale.max_per_buyer > max_units_per_buyer)
    return Error{ErrorCode::invalid_request, "max_per_buyer must be an integer from 1 to 1000000"};
  if (sale.buckets < 1 || sale.buckets > max_buckets)
    return Error{ErrorCode::invalid_request, "buckets must be an integer from 1 to 64"};
  if (sale.starts_at && sale.ends_at && *sale.ends_at <= *sale.starts_at)
    return Error{ErrorCode::invalid_request, "ends_at must be later than starts_at"};
  return std::nullopt;
}

}  // namespace flashgate::domain
