// POST /api/admin/sales, GET /api/sales/{id}, GET /api/admin/sales/{id}/stats
#include <algorithm>

#include "domain/draw.hpp"
#include "domain/ids.hpp"
#include "gateway/handlers.hpp"
#include "gateway/archive_render.hpp"
#include "gateway/json_body.hpp"
#include "gateway/render.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

bool sale_id_or_reply(const ExchangePtr& ex, std::string& sale_id) {
  sale_id = std::string(ex->request().param("sale_id"));
  if (domain::is_valid_id(sale_id)) return true;
  ex->respond(error_response(ErrorCode::invalid_request, "sale_id must be 1-64 characters of [A-Za-z0-9._:-]"));
  return false;
}

domain::Result<std::optional<domain::TimeMs>> optional_time(const boost::json::object& body, std::string_view field) {
  auto text = optional_string(body, field);
  if (!text) return text.error();
  if (!text.value()) return std::optional<domain::TimeMs>{};
  auto parsed = domain::parse_rfc3339(**text);
  if (!parsed)
    return domain::Error{ErrorCode::invalid_request, std::string(field) + " must be an RFC 3339 time"};
  return std::optional<domain::TimeMs>(*parsed);
}

// A duration as integer seconds (10) or a duration string ("10s", "5m", "250ms").
domain::Result<std::int64_t> duration_ms(const boost::json::object& body, std::string_view field) {
  const domain::Error invalid{ErrorCode::invalid_request,
                              std::string(field) + " must be whole seconds or a duration such as \"10s\" or \"5m\""};
  const auto* value = body.if_contains(field);
  if (value->is_int64()) {
    const auto seconds = value->as_int64();
    if (seconds < 0 || seconds > domain::max_prequeue_ms / 1000) return invalid;
    return seconds * 1000;
  }
  if (!value->is_string()) return invalid;
  const auto parsed = domain::parse_duration_ms(std::string_view(value->as_string()));
  if (!parsed) return invalid;
  return *parsed;
}

// "admission", "draw_window", "prequeue" (domain/draw.hpp), checked against the sale's times.
std::optional<domain::Error> parse_admission_fields(const boost::json::object& obj, domain::Sale& sale) {
  auto& rules = sale.admission;
  if (obj.contains("admission")) {
    auto text = required_string(obj, "admission");
    if (!text) return text.error();
    auto admission = domain::parse_admission(text.value());
    if (!admission) return domain::Error{ErrorCode::invalid_request, "admission must be \"first_come\" or \"draw\""};
    rules.admission = *admission;
  }
  for (auto [field, target] : {std::pair{"draw_window", &rules.draw_window_ms}, std::pair{"prequeue", &rules.prequeue_ms}}) {
    if (!obj.contains(field)) continue;
    auto ms = duration_ms(obj, field);
    if (!ms) return ms.error();
    *target = *ms;
  }
  return domain::validate_admission(sale, rules);
}

// One member of "items": {"item_id" (or "id"), "name", "stock", "max_per_buyer"?}.
domain::Result<domain::SaleItem> parse_sale_item(const boost::json::value& value, std::int64_t default_max_per_buyer) {
  const domain::Error not_object{ErrorCode::invalid_request,
                                 "each of items must be an object with item_id, name, stock and max_per_buyer"};
  if (!value.is_object()) return not_object;
  const auto& obj = value.get_object();
  if (auto unknown = only_fields(obj, {"item_id", "id", "name", "stock", "max_per_buyer"}))
    return domain::Error{ErrorCode::invalid_request, "items: " + unknown->message};
  if (obj.contains("item_id") && obj.contains("id"))
    return domain::Error{ErrorCode::invalid_request, "items: give an item's id as item_id or id, not both"};
  auto id = required_string(obj, obj.contains("id") ? "id" : "item_id");
  if (!id) return domain::Error{ErrorCode::invalid_request, "items: " + id.error().message};
  auto name = required_string(obj, "name");
  if (!name) return domain::Error{ErrorCode::invalid_request, "items: " + name.error().message};
  auto stock = required_integer(obj, "stock");
  if (!stock) return domain::Error{ErrorCode::invalid_request, "items: " + stock.error().message};
  std::int64_t max_per_buyer = default_max_per_buyer;
  if (obj.contains("max_per_buyer")) {
    auto given = required_integer(obj, "max_per_buyer");
    if (!given) return domain::Error{ErrorCode::invalid_request, "items: " + given.error().message};
    max_per_buyer = *given;
  }
  return domain::SaleItem{std::move(id).value(), std::move(name).value(), *stock, max_per_buyer};
}

// "items" of a sale of several (the domain checks their ids, names and numbers).
domain::Result<std::vector<domain::SaleItem>> parse_sale_items(const boost::json::object& obj,
                                                               std::int64_t default_max_per_buyer) {
  const auto& value = obj.at("items");
  if (!value.is_array() || value.get_array().empty() || value.get_array().size() > domain::max_items)
    return domain::Error{ErrorCode::invalid_request, "items must be an array of 1 to 100 items"};
  std::vector<domain::SaleItem> items;
  items.reserve(value.get_array().size());
  for (const auto& member : value.get_array()) {
    auto item = parse_sale_item(member, default_max_per_buyer);
    if (!item) return item.error();
    items.push_back(std::move(item).value());
  }
  return items;
}

domain::Result<domain::Sale> parse_new_sale(std::string_view text) {
  auto body = parse_json_object(text);
  if (!body) return body.error();
  const auto& obj = body.value();
  if (auto unknown = only_fields(obj, {"sale_id", "item", "stock", "starts_at", "ends_at", "max_per_buyer", "buckets",
                                  "admission", "draw_window", "prequeue", "items"})) return *unknown;
  domain::Sale sale;
  auto sale_id = required_string(obj, "sale_id");
  if (!sale_id) return sale_id.error();
  std::int64_t max_per_buyer = 1;
  if (obj.contains("max_per_buyer")) {
    auto given = required_integer(obj, "max_per_buyer");
    if (!given) return given.error();
    max_per_buyer = *given;
  }
  // A sale of several items: its stock is theirs, its item (a name for people) the sale id unless given.
  const bool several = obj.contains("items");
  if (several) {
    auto items = parse_sale_items(obj, max_per_buyer);
    if (!items) return items.error();
    sale.items = std::move(items).value();
  }
  auto item = several && !obj.contains("item") ? domain::Result<std::string>(sale_id.value()) : required_string(obj, "item");
  if (!item) return item.error();
  std::int64_t items_stock = 0;
  // Clamped: an item's stock out of range is the domain's to refuse, not an overflow here.
  for (const auto& each : sale.items) items_stock += std::clamp<std::int64_t>(each.stock, 0, domain::max_stock);
  auto stock = several && !obj.contains("stock") ? domain::Result<std::int64_t>(items_stock) : required_integer(obj, "stock");
  if (!stock) return stock.error();
  std::int64_t buckets = 1;
  if (obj.contains("buckets")) {
    auto given = required_integer(obj, "buckets");
    if (!given) return given.error();
    buckets = *given;
  }
  auto starts = optional_time(obj, "starts_at");
  if (!starts) return starts.error();
  auto ends = optional_time(obj, "ends_at");
  if (!ends) return ends.error();
  sale.sale_id = std::move(sale_id).value();
  sale.item = std::move(item).value();
  sale.stock = *stock;
  sale.starts_at = *starts;
  sale.ends_at = *ends;
  sale.max_per_buyer = max_per_buyer;
  sale.buckets = buckets;
  sale.created_at = domain::now_ms();
  if (auto invalid = domain::validate_new_sale(sale)) return *invalid;
  if (auto invalid = parse_admission_fields(obj, sale)) return *invalid;
  return sale;
}

}  // namespace

void CreateSale::operator()(const ExchangePtr& ex) const {
  if (!admin.pass_or_reply(ex)) return;
  auto sale = parse_new_sale(ex->request().body);
  if (!sale) return ex->respond(error_response(sale.error()));
  // An archived sale's id stays taken: its orders are still in the database.
  if (archived.archive && archived.archive->is_archived(sale.value().sale_id))
    return ex->respond(error_response(ErrorCode::sale_exists, "a sale with this id exists (archived)"));
  store.create_sale(sale.value(), [ex](domain::Result<store::SaleView> created) {
    if (!created) return ex->respond(error_response(created.error()));
    ex->respond(json_response(201, render_sale(created.value(), domain::now_ms())));
  });
}

void GetSale::operator()(const ExchangePtr& ex) const {
  std::string sale_id;
  if (!sale_id_or_reply(ex, sale_id)) return;
  // The id is read from the request again only if the store lacks the sale:
  // a look-up of a live sale copies nothing more than before.
  store.get_sale(sale_id, [archived = archived, ex](domain::Result<store::SaleView> sale) {
    if (!sale) return archived.store_error(ex, sale.error(), std::string(ex->request().param("sale_id")));
    ex->respond(json_response(200, render_sale(sale.value(), domain::now_ms())));
  });
}

void SaleStats::operator()(const ExchangePtr& ex) const {
  if (!admin.pass_or_reply(ex)) return;
  std::string sale_id;
  if (!sale_id_or_reply(ex, sale_id)) return;
  store.get_sale(sale_id, [archived = archived, ex, sale_id](domain::Result<store::SaleView> sale) {
    if (sale) return ex->respond(json_response(200, render_stats(sale.value())));
    auto* archive = archived.archive;
    if (!archive || !archive->is_archived(sale_id) || !archive->database())
      return archived.store_error(ex, sale.error(), sale_id);
    // Archived: the database's final numbers.
    if (!archive->run([archive, ex, sale_id] {
          auto record = archive->database()->find_sale(sale_id);
          if (!record || !record->archived_at)
            return ex->respond(error_response(ErrorCode::unavailable, "the database could not be read"));
          ex->respond(json_response(200, render_archived_stats(*record)));
        }))
      ex->respond(error_response(ErrorCode::unavailable, "too many admin requests at once; retry shortly"));
  });
}

}  // namespace flashgate::gateway
