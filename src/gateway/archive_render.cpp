#include "gateway/archive_render.hpp"

#include <boost/json.hpp>

#include "domain/sale.hpp"

namespace flashgate::gateway {

namespace json = boost::json;

namespace {

json::value time_or_null(const std::optional<domain::TimeMs>& t) {
  if (t) return json::value(domain::format_rfc3339(*t));
  return nullptr;
}

json::object counts_object(const std::array<std::uint64_t, domain::all_statuses.size()>& counts) {
  json::object out;
  for (auto status : domain::all_statuses)
    out[domain::to_string(status)] = counts[static_cast<std::size_t>(status)];
  return out;
}

// The sale object of the contract (GET /api/sales/{id}).
json::object sale_object(const domain::Sale& sale, std::int64_t remaining, domain::TimeMs now) {
  json::object out;
  out["sale_id"] = sale.sale_id;
  out["item"] = sale.item;
  out["stock"] = sale.stock;
  out["max_per_buyer"] = sale.max_per_buyer;
  out["remaining"] = remaining;
  out["state"] = domain::to_string(domain::sale_state(sale, remaining, now));
  out["starts_at"] = time_or_null(sale.starts_at);
  out["ends_at"] = time_or_null(sale.ends_at);
  return out;
}

// A sale of several items' "items" (as render_sale writes them); `stats`: with each one's counts and units.
json::array items_array(const domain::Sale& sale, const std::vector<store::ItemView>& items, domain::TimeMs now,
                        bool stats) {
  json::array out;
  for (const auto& item : items) {
    json::object each;
    each["item_id"] = item.item.item_id;
    each["name"] = item.item.name;
    each["stock"] = item.item.stock;
    each["remaining"] = item.remaining;
    if (stats) {
      each["remaining_db"] = item.remaining_db ? json::value(*item.remaining_db) : json::value(nullptr);
      each["counts"] = counts_object(item.counts);
      each["units"] = counts_object(item.units);
    } else {
      each["max_per_buyer"] = item.item.max_per_buyer;
      each["state"] = domain::to_string(domain::sale_state(sale, item.remaining, now));
    }
    out.push_back(std::move(each));
  }
  return out;
}

json::object archived_sale_object(const database::SaleRecord& record, domain::TimeMs now) {
  auto out = sale_object(record.sale, record.remaining, now);
  if (!record.items.empty()) out["items"] = items_array(record.sale, record.items, now, false);
  out["counts"] = counts_object(record.counts);
  out["archived_at"] = time_or_null(record.archived_at);
  return out;
}

}  // namespace

std::string render_archived_sale(const database::SaleRecord& record, domain::TimeMs now) {
  return json::serialize(archived_sale_object(record, now));
}

std::string render_archived_stats(const database::SaleRecord& record) {
  json::object out;
  out["sale_id"] = record.sale.sale_id;
  out["stock"] = record.sale.stock;
  out["remaining"] = record.remaining;
  out["remaining_db"] = record.remaining_db ? json::value(*record.remaining_db) : json::value(nullptr);
  out["queue_depth"] = 0;
  out["counts"] = counts_object(record.counts);
  out["units"] = counts_object(record.units);
  if (!record.items.empty()) out["items"] = items_array(record.sale, record.items, 0, true);
  out["archived_at"] = time_or_null(record.archived_at);
  return json::serialize(out);
}

std::string render_sale_archived(const database::SaleRecord* record, domain::TimeMs now) {
  json::object out;
  out["error"] = "sale_archived";
  out["message"] = "the sale is over and archived; only its final numbers are kept";
  if (record) out["sale"] = archived_sale_object(*record, now);
  return json::serialize(out);
}

std::string render_sale_list(const std::vector<ListedSale>& sales, const std::optional<std::string>& next,
                             domain::TimeMs now) {
  json::array items;
  for (const auto& listed : sales) {
    const auto& record = listed.record;
    json::object item;
    if (record.archived_at) {
      item = archived_sale_object(record, now);
      item["sale_state"] = item["state"];
      item["state"] = "archived";
    } else {
      const auto remaining = listed.live ? listed.live->remaining : record.remaining;
      item = sale_object(record.sale, remaining, now);
      item["sale_state"] = item["state"];
      item["state"] = "live";
      if (listed.live) item["counts"] = counts_object(listed.live->counts);
      const auto& items = listed.live ? listed.live->items : record.items;
      if (!items.empty()) item["items"] = items_array(record.sale, items, now, false);
    }
    items.push_back(std::move(item));
  }
  json::object out;
  out["sales"] = std::move(items);
  out["next"] = next ? json::value(*next) : json::value(nullptr);
  return json::serialize(out);
}

}  // namespace flashgate::gateway
