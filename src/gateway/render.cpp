#include "gateway/render.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace flashgate::gateway {

namespace json = boost::json;

namespace {

json::value optional_time(const std::optional<domain::TimeMs>& t) {
  if (!t) return nullptr;
  return json::string(domain::format_rfc3339(*t));
}

json::object status_object(const store::OrderView& view) {
  const auto& o = view.order;
  json::object obj;
  obj["order_id"] = o.order_id;
  obj["sale_id"] = o.sale_id;
  obj["status"] = domain::to_string(o.status);
  obj["version"] = o.version;
  if (o.status == domain::OrderStatus::queued) obj["position"] = view.position;
  else obj["position"] = nullptr;
  obj["poll_after_ms"] = view.poll_after_ms;
  if (o.reason.empty()) obj["reason"] = nullptr;
  else obj["reason"] = o.reason;
  obj["updated_at"] = domain::format_rfc3339(o.updated_at);
  return obj;
}

}  // namespace

std::string render_status(const store::OrderView& view) { return json::serialize(status_object(view)); }

std::string render_intake(const store::OrderView& view, const std::string& ticket) {
  json::object obj = status_object(view);
  obj["ticket"] = ticket;
  obj["status_url"] = "/api/orders/status?ticket=" + ticket;
  obj["events_url"] = "/api/orders/events?ticket=" + ticket;
  return json::serialize(obj);
}

std::string render_sale(const store::SaleView& view, domain::TimeMs now) {
  const auto& s = view.sale;
  json::object obj;
  obj["sale_id"] = s.sale_id;
  obj["item"] = s.item;
  obj["stock"] = s.stock;
  obj["remaining"] = view.remaining;
  obj["state"] = domain::to_string(domain::sale_state(s, view.remaining, now));
  obj["starts_at"] = optional_time(s.starts_at);
  obj["ends_at"] = optional_time(s.ends_at);
  return json::serialize(obj);
}

std::string render_stats(const store::SaleView& view) {
  json::object counts;
  for (auto status : domain::all_statuses)
    counts[domain::to_string(status)] = view.counts[static_cast<std::size_t>(status)];
  json::object obj;
  obj["sale_id"] = view.sale.sale_id;
  obj["stock"] = view.sale.stock;
  obj["remaining"] = view.remaining;
  if (view.remaining_db) obj["remaining_db"] = *view.remaining_db;
  else obj["remaining_db"] = nullptr;
  obj["queue_depth"] = view.queue_depth;
  obj["counts"] = std::move(counts);
  return json::serialize(obj);
}

}  // namespace flashgate::gateway
