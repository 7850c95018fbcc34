#include "gateway/render.hpp"

#include "domain/draw.hpp"
#include "gateway/json_writer.hpp"

namespace flashgate::gateway {

// Written member by member with JsonWriter: these run on every poll, event
// and intake. Key order and spelling are what the boost::json objects of the
// first version serialized to; render_test compares the two byte for byte.

namespace {

// Room for the keys, punctuation, largest numbers and timestamps of each object;
// the variable strings are added on top, so that one allocation is enough.
constexpr std::size_t status_fixed_size = 288;  // with the key of external_id
constexpr std::size_t intake_fixed_size = 100;
constexpr std::size_t sale_fixed_size = 224;
constexpr std::size_t stats_fixed_size = 640;
constexpr std::size_t item_fixed_size = 128;        // one member of a sale object's "items"
constexpr std::size_t stats_item_fixed_size = 640;  // one member of the stats' "items"

void time(JsonWriter& w, domain::TimeMs t) {
  char buf[domain::rfc3339_buffer_size];
  w.plain_string(domain::format_rfc3339(t, buf));
}

void optional_time(JsonWriter& w, const std::optional<domain::TimeMs>& t) {
  if (t) time(w, *t);
  else w.null();
}

// The status object's members, without its braces (the intake answer adds more).
void status_members(JsonWriter& w, const store::OrderView& view) {
  const auto& o = view.order;
  w.key("order_id").string(o.order_id);
  w.key("sale_id").string(o.sale_id);
  w.key("status").plain_string(domain::to_string(o.status));
  w.key("version").number(o.version);
  w.key("position");
  if (o.status == domain::OrderStatus::queued) w.number(view.position);
  else w.null();
  w.key("poll_after_ms").number(view.poll_after_ms);
  // Only while QUEUED; null until the sale's windows have a measured pace.
  if (o.status == domain::OrderStatus::queued) {
    w.key("estimated_wait_ms");
    if (view.estimated_wait_ms) w.number(*view.estimated_wait_ms);
    else w.null();
  }
  // Only while ENTERED: when the draw decides the order.
  if (view.draw_at) {
    w.key("draw_at");
    time(w, *view.draw_at);
  }
  w.key("reason");
  if (o.reason.empty()) w.null();
  else w.string(o.reason);
  w.key("updated_at");
  time(w, o.updated_at);
  w.key("quantity").number(o.quantity);
  // Only an order of a sale of several items has one: a single-item sale's object is unchanged.
  if (!o.item_id.empty()) w.key("item_id").string(o.item_id);
  // Only once the shop said one: the clients of before see the object they knew.
  if (!o.external_id.empty()) w.key("external_id").string(o.external_id);
}

std::size_t status_size(const store::OrderView& view) {
  return status_fixed_size + view.order.order_id.size() + view.order.sale_id.size() + view.order.reason.size() +
         view.order.external_id.size() + view.order.item_id.size();
}

// What the sale object's and the stats' "items" both say of an item.
void item_members(JsonWriter& w, const store::ItemView& item) {
  w.key("item_id").string(item.item.item_id);
  w.key("name").string(item.item.name);
  w.key("stock").number(item.item.stock);
  w.key("remaining").number(item.remaining);
}

}  // namespace

std::string render_status(const store::OrderView& view) {
  JsonWriter w(status_size(view));
  w.begin_object();
  status_members(w, view);
  return w.end_object().take();
}

std::string render_intake(const store::OrderView& view, const std::string& ticket) {
  JsonWriter w(status_size(view) + intake_fixed_size + 3 * ticket.size());
  w.begin_object();
  status_members(w, view);
  // A ticket is base64url (the scan for escapes was a fifth of an intake's
  // rendering): copied three times as it is.
  w.key("ticket").plain_string(ticket);
  w.key("status_url").plain_string("/api/orders/status?ticket=", ticket);
  w.key("events_url").plain_string("/api/orders/events?ticket=", ticket);
  return w.end_object().take();
}

std::string render_sale(const store::SaleView& view, domain::TimeMs now) {
  const auto& s = view.sale;
  std::size_t items_size = 0;
  for (const auto& item : view.items) items_size += item_fixed_size + item.item.item_id.size() + item.item.name.size();
  JsonWriter w(sale_fixed_size + s.sale_id.size() + s.item.size() + items_size);
  w.begin_object();
  w.key("sale_id").string(s.sale_id);
  w.key("item").string(s.item);
  w.key("stock").number(s.stock);
  w.key("remaining").number(view.remaining);
  w.key("state").string(domain::to_string(domain::sale_state(s, view.remaining, now)));
  w.key("starts_at");
  optional_time(w, s.starts_at);
  w.key("ends_at");
  optional_time(w, s.ends_at);
  w.key("max_per_buyer").number(s.max_per_buyer);
  // Only a draw sale's: a first-come sale's object is the one its clients knew.
  if (s.admission.is_draw()) {
    w.key("admission").plain_string(domain::to_string(s.admission.admission));
    w.key("draw_window_ms").number(s.admission.draw_window_ms);
    w.key("prequeue_ms").number(s.admission.prequeue_ms);
    w.key("entry_opens_at");
    time(w, domain::entry_opens_at(s, s.admission));
    w.key("draw_at");
    time(w, domain::draw_at(s, s.admission));
  }
  w.key("buckets").number(s.buckets);
  // Only a sale of several items: each one's stock, what is left of it and its state.
  if (!view.items.empty()) {
    w.key("items").begin_array();
    for (const auto& item : view.items) {
      w.item().begin_object();
      item_members(w, item);
      w.key("max_per_buyer").number(item.item.max_per_buyer);
      w.key("state").string(domain::to_string(domain::sale_state(s, item.remaining, now)));
      w.end_object();
    }
    w.end_array();
  }
  return w.end_object().take();
}

namespace {

void status_numbers(JsonWriter& w, std::string_view name,
                    const std::array<std::uint64_t, domain::all_statuses.size()>& numbers) {
  w.key(name).begin_object();
  for (auto status : domain::all_statuses)
    w.key(domain::to_string(status)).number(numbers[static_cast<std::size_t>(status)]);
  w.end_object();
}

}  // namespace

std::string render_stats(const store::SaleView& view) {
  std::size_t items_size = 0;
  for (const auto& item : view.items) items_size += stats_item_fixed_size + item.item.item_id.size() + item.item.name.size();
  JsonWriter w(stats_fixed_size + view.sale.sale_id.size() + items_size);
  w.begin_object();
  w.key("sale_id").string(view.sale.sale_id);
  w.key("stock").number(view.sale.stock);
  w.key("remaining").number(view.remaining);
  w.key("remaining_db");
  if (view.remaining_db) w.number(*view.remaining_db);
  else w.null();
  w.key("queue_depth").number(view.queue_depth);
  status_numbers(w, "counts", view.counts);
  // Orders above, the units they hold (or gave back) here: equal while every order is of one unit.
  status_numbers(w, "units", view.units);
  // remaining + held units + in_transit == stock, whatever the buckets.
  w.key("in_transit").number(view.in_transit);
  w.key("buckets").number(view.sale.buckets);
  if (!view.buckets.empty()) {
    w.key("bucket_detail").begin_array();
    for (const auto& bucket : view.buckets) {
      w.item().begin_object();
      w.key("remaining").number(bucket.remaining);
      w.key("queue_depth").number(bucket.queue_depth);
      w.key("in_transit").number(bucket.in_transit);
      w.end_object();
    }
    w.end_array();
  }
  // A sale of several items: each one's numbers, of which those above are the sums.
  if (!view.items.empty()) {
    w.key("items").begin_array();
    for (const auto& item : view.items) {
      w.item().begin_object();
      item_members(w, item);
      w.key("remaining_db");
      if (item.remaining_db) w.number(*item.remaining_db);
      else w.null();
      status_numbers(w, "counts", item.counts);
      status_numbers(w, "units", item.units);
      w.end_object();
    }
    w.end_array();
  }
  return w.end_object().take();
}

}  // namespace flashgate::gateway
