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

std::optional<Error> quantity_refusal(std::int64_t max_per_buyer, std::int64_t quantity, std::int64_t held,
                                      std::int64_t remaining) {
  if (quantity < 1 || quantity > max_per_buyer) return refusal(ErrorCode::invalid_request);
  if (remaining <= 0) return refusal(ErrorCode::sold_out);
  if (held + quantity > max_per_buyer) return refusal(ErrorCode::buyer_limit_reached);
  if (remaining < quantity) return not_enough_stock(remaining);
  return std::nullopt;
}

std::optional<Error> quantity_refusal(const Sale& sale, std::int64_t quantity, std::int64_t held,
                                      std::int64_t remaining) {
  return quantity_refusal(sale.max_per_buyer, quantity, held, remaining);
}

const SaleItem* find_item(const Sale& sale, std::string_view item_id) {
  for (const auto& item : sale.items)
    if (item.item_id == item_id) return &item;
  return nullptr;
}

std::optional<Error> item_refusal(const Sale& sale, std::string_view item_id) {
  if (sale.items.empty()) return std::nullopt;
  if (item_id.empty()) return item_required();
  if (!find_item(sale, item_id)) return refusal(ErrorCode::item_not_found);
  return std::nullopt;
}

std::int64_t buyer_limit(const Sale& sale, std::string_view item_id) {
  const SaleItem* item = find_item(sale, item_id);
  return item ? item->max_per_buyer : sale.max_per_buyer;
}

std::string item_stock_key(std::string_view sale_id, std::string_view item_id) {
  std::string key(sale_id);
  key += '@';
  key += item_id;
  return key;
}

std::optional<ItemStockKey> parse_item_stock_key(std::string_view key) {
  const auto at = key.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  return ItemStockKey{key.substr(0, at), key.substr(at + 1)};
}

namespace {

std::optional<Error> validate_items(const Sale& sale) {
  if (sale.items.size() > max_items)
    return Error{ErrorCode::invalid_request, "items must list 1 to 100 items"};
  std::int64_t total = 0;
  for (std::size_t i = 0; i < sale.items.size(); ++i) {
    const SaleItem& item = sale.items[i];
    if (!is_valid_id(item.item_id))
      return Error{ErrorCode::invalid_request, "each item's item_id must be 1-64 characters of [A-Za-z0-9._:-]"};
    for (std::size_t j = 0; j < i; ++j)
      if (sale.items[j].item_id == item.item_id)
        return Error{ErrorCode::invalid_request, "item ids must be unique within a sale: " + item.item_id + " is twice"};
    if (item.name.empty() || item.name.size() > max_item_length)
      return Error{ErrorCode::invalid_request, "each item's name must be a non-empty string of at most 256 bytes"};
    if (item.stock < 0 || item.stock > max_stock)
      return Error{ErrorCode::invalid_request, "each item's stock must be an integer from 0 to 1000000000"};
    if (item.max_per_buyer < 1 || item.max_per_buyer > max_units_per_buyer)
      return Error{ErrorCode::invalid_request, "each item's max_per_buyer must be an integer from 1 to 1000000"};
    total += item.stock;
  }
  if (total != sale.stock)
    return Error{ErrorCode::invalid_request, "stock must be the sum of the items' stock (or left out)"};
  // One item's units in several buckets would need moves per item; a sale of
  // several items is spread by its items' own demand instead.
  if (sale.buckets != 1)
    return Error{ErrorCode::invalid_request, "\"items\" and \"buckets\" > 1 do not combine"};
  return std::nullopt;
}

}  // namespace

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
  if (!sale.items.empty()) return validate_items(sale);
  return std::nullopt;
}

}  // namespace flashgate::domain
