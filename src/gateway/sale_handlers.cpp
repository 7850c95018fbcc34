// POST /api/admin/sales, GET /api/sales/{id}, GET /api/admin/sales/{id}/stats
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

domain::Result<domain::Sale> parse_new_sale(std::string_view text) {
  auto body = parse_json_object(text);
  if (!body) return body.error();
  const auto& obj = body.value();
  if (auto unknown = only_fields(obj, {"sale_id", "item", "stock", "starts_at", "ends_at", "max_per_buyer", "buckets",
                                  "admission", "draw_window", "prequeue"})) return *unknown;
  domain::Sale sale;
  auto sale_id = required_string(obj, "sale_id");
  if (!sale_id) return sale_id.error();
  auto item = required_string(obj, "item");
  if (!item) return item.error();
  auto stock = required_integer(obj, "stock");
  if (!stock) return stock.error();
  std::int64_t max_per_buyer = 1;
  if (obj.contains("max_per_buyer")) {
    auto given = required_integer(obj, "max_per_buyer");
    if (!given) return given.error();
    max_per_buyer = *given;
  }
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
