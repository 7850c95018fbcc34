#include "gateway/render.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "domain/time.hpp"

namespace {

namespace json = boost::json;
using flashgate::domain::all_statuses;
using flashgate::domain::format_rfc3339;
using flashgate::domain::OrderStatus;
using flashgate::domain::parse_rfc3339;
using flashgate::domain::Sale;
using flashgate::domain::TimeMs;
using flashgate::domain::to_string;
using flashgate::gateway::render_intake;
using flashgate::gateway::render_sale;
using flashgate::gateway::render_stats;
using flashgate::gateway::render_status;
using flashgate::store::OrderView;
using flashgate::store::SaleView;

constexpr TimeMs t0 = 1'800'000'000'123;

OrderView view_in(OrderStatus status) {
  OrderView v;
  v.order.order_id = "0123456789abcdef0123";
  v.order.sale_id = "sale-1";
  v.order.user_id = "user-1";
  v.order.seq = 37;
  v.order.status = status;
  v.order.version = 3;
  v.order.created_at = t0 - 1000;
  v.order.updated_at = t0;
  v.position = 37;
  v.poll_after_ms = 400;
  return v;
}

json::object parse_object(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.as_object() : json::object{};
}

SaleView sale_view(std::int64_t stock, std::int64_t remaining) {
  SaleView v;
  v.sale.sale_id = "sale-1";
  v.sale.item = "phone \"pro\" \xe7\xa7\x92";
  v.sale.stock = stock;
  v.sale.starts_at = t0;
  v.sale.ends_at = t0 + 3'600'000;
  v.sale.created_at = t0 - 5000;
  v.remaining = remaining;
  return v;
}

// --- render_status ---

TEST(RenderStatus, HasEveryFieldOfTheContractsStatusObject) {
  for (OrderStatus s : all_statuses) {
    const auto obj = parse_object(render_status(view_in(s)));
    for (const char* field :
         {"order_id", "sale_id", "status", "version", "position", "poll_after_ms", "reason", "updated_at"})
      EXPECT_TRUE(obj.contains(field)) << field << " missing for " << to_string(s);
  }
}

TEST(RenderStatus, CarriesTheOrdersValues) {
  const auto obj = parse_object(render_status(view_in(OrderStatus::queued)));
  EXPECT_EQ(obj.at("order_id").as_string(), "0123456789abcdef0123");
  EXPECT_EQ(obj.at("sale_id").as_string(), "sale-1");
  EXPECT_EQ(obj.at("status").as_string(), "QUEUED");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("version")), 3);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("position")), 37);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("poll_after_ms")), 400);
}

TEST(RenderStatus, StatusIsTheContractsSpelling) {
  for (OrderStatus s : all_statuses) {
    const auto obj = parse_object(render_status(view_in(s)));
    EXPECT_EQ(obj.at("status").as_string(), to_string(s));
  }
}

TEST(RenderStatus, PositionIsANumberOnlyWhileQueued) {
  for (OrderStatus s : all_statuses) {
    const auto obj = parse_object(render_status(view_in(s)));
    if (s == OrderStatus::queued) {
      EXPECT_TRUE(obj.at("position").is_number()) << to_string(s);
    } else {
      EXPECT_TRUE(obj.at("position").is_null()) << to_string(s);
    }
  }
}

TEST(RenderStatus, ReasonIsNullWhenEmpty) {
  const auto obj = parse_object(render_status(view_in(OrderStatus::confirmed)));
  EXPECT_TRUE(obj.at("reason").is_null());
}

TEST(RenderStatus, ReasonIsTheTextWhenSet) {
  OrderView v = view_in(OrderStatus::failed);
  v.order.reason = "downstream refused \"the\" order";
  const auto obj = parse_object(render_status(v));
  ASSERT_TRUE(obj.at("reason").is_string());
  EXPECT_EQ(obj.at("reason").as_string(), "downstream refused \"the\" order");
}

TEST(RenderStatus, UpdatedAtIsRfc3339OfTheOrdersTime) {
  const auto obj = parse_object(render_status(view_in(OrderStatus::processing)));
  ASSERT_TRUE(obj.at("updated_at").is_string());
  const std::string text(obj.at("updated_at").as_string());
  EXPECT_EQ(text, format_rfc3339(t0));
  EXPECT_EQ(parse_rfc3339(text), t0);
}

TEST(RenderStatus, DoesNotLeakTheUserOrPayment) {
  OrderView v = view_in(OrderStatus::paid);
  v.order.payment_id = "pay-secret-77";
  const std::string text = render_status(v);
  EXPECT_EQ(text.find("pay-secret-77"), std::string::npos);
}

TEST(RenderStatus, ExternalIdOnlyOnceTheShopSaidOne) {
  EXPECT_FALSE(parse_object(render_status(view_in(OrderStatus::confirmed))).contains("external_id"));
  OrderView v = view_in(OrderStatus::paid);
  v.order.external_id = "SHOP-42";
  const auto obj = parse_object(render_status(v));
  ASSERT_TRUE(obj.at("external_id").is_string());
  EXPECT_EQ(obj.at("external_id").as_string(), "SHOP-42");
  EXPECT_EQ(parse_object(render_intake(v, "AbC")).at("external_id").as_string(), "SHOP-42");
}

TEST(RenderStatus, DrawAtOnlyWhileEntered) {
  auto v = view_in(OrderStatus::entered);
  v.draw_at = t0 + 5000;
  const auto obj = parse_object(render_status(v));
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("draw_at").as_string())), t0 + 5000);
  EXPECT_TRUE(obj.at("position").is_null());
  EXPECT_FALSE(obj.contains("estimated_wait_ms"));
  EXPECT_FALSE(parse_object(render_status(view_in(OrderStatus::queued))).contains("draw_at"));
}

TEST(RenderStatus, ShowsTheQuantity) {
  OrderView v = view_in(OrderStatus::queued);
  EXPECT_EQ(json::value_to<std::int64_t>(parse_object(render_status(v)).at("quantity")), 1);
  v.order.quantity = 4;
  EXPECT_EQ(json::value_to<std::int64_t>(parse_object(render_status(v)).at("quantity")), 4);
  EXPECT_EQ(json::value_to<std::int64_t>(parse_object(render_intake(v, "AbC")).at("quantity")), 4);
}

TEST(RenderStatus, EstimatedWaitOnlyWhileQueued) {
  OrderView v = view_in(OrderStatus::queued);
  EXPECT_TRUE(parse_object(render_status(v)).at("estimated_wait_ms").is_null()) << "no pace measured yet";
  v.estimated_wait_ms = 12'345;
  EXPECT_EQ(json::value_to<std::int64_t>(parse_object(render_status(v)).at("estimated_wait_ms")), 12'345);
  for (OrderStatus s : {OrderStatus::processing, OrderStatus::confirmed, OrderStatus::paid}) {
    OrderView later = view_in(s);
    later.estimated_wait_ms = 5;
    EXPECT_FALSE(parse_object(render_status(later)).contains("estimated_wait_ms")) << to_string(s);
  }
}

TEST(RenderStatus, ItemIdOnlyForAnOrderOfASaleOfSeveralItems) {
  OrderView v = view_in(OrderStatus::queued);
  EXPECT_FALSE(parse_object(render_status(v)).contains("item_id"));
  v.order.item_id = "buds";
  EXPECT_EQ(parse_object(render_status(v)).at("item_id").as_string(), "buds");
  EXPECT_EQ(parse_object(render_intake(v, "AbC")).at("item_id").as_string(), "buds");
}

// A sale of two items: the phone sold out, the buds not.
SaleView sale_of_items() {
  SaleView v = sale_view(8, 2);
  v.sale.items = {{"phone", "Phone \"X\"", 3, 1}, {"buds", "Buds", 5, 3}};
  flashgate::store::ItemView phone{v.sale.items[0], 0, 1, {}, {}};
  phone.counts[static_cast<std::size_t>(OrderStatus::confirmed)] = 3;
  phone.units[static_cast<std::size_t>(OrderStatus::confirmed)] = 3;
  flashgate::store::ItemView buds{v.sale.items[1], 2, std::nullopt, {}, {}};
  buds.counts[static_cast<std::size_t>(OrderStatus::queued)] = 1;
  buds.units[static_cast<std::size_t>(OrderStatus::queued)] = 3;
  v.items = {phone, buds};
  return v;
}

TEST(RenderSale, ASaleOfSeveralItemsShowsEachWithItsState) {
  EXPECT_FALSE(parse_object(render_sale(sale_view(10, 4), t0 + 1)).contains("items"));
  const auto obj = parse_object(render_sale(sale_of_items(), t0 + 1));
  EXPECT_EQ(obj.at("state").as_string(), "open");  // sold out only once every item is
  const auto& items = obj.at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("item_id").as_string(), "phone");
  EXPECT_EQ(items[0].at("name").as_string(), "Phone \"X\"");
  EXPECT_EQ(json::value_to<std::int64_t>(items[0].at("stock")), 3);
  EXPECT_EQ(json::value_to<std::int64_t>(items[0].at("remaining")), 0);
  EXPECT_EQ(json::value_to<std::int64_t>(items[0].at("max_per_buyer")), 1);
  EXPECT_EQ(items[0].at("state").as_string(), "sold_out");
  EXPECT_EQ(items[1].at("state").as_string(), "open");
  EXPECT_EQ(items[0].as_object().size(), 6u);
}

TEST(RenderStats, ASaleOfSeveralItemsShowsEachItemsNumbers) {
  EXPECT_FALSE(parse_object(render_stats(sale_view(10, 4))).contains("items"));
  const auto obj = parse_object(render_stats(sale_of_items()));
  const auto& items = obj.at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(json::value_to<std::int64_t>(items[0].at("remaining_db")), 1);
  EXPECT_TRUE(items[1].at("remaining_db").is_null());
  EXPECT_EQ(json::value_to<std::int64_t>(items[0].at("counts").at("CONFIRMED")), 3);
  EXPECT_EQ(json::value_to<std::int64_t>(items[1].at("units").at("QUEUED")), 3);
  EXPECT_EQ(items[1].at("units").as_object().size(), all_statuses.size());
}

TEST(RenderStats, CountsUnitsBesideOrders) {
  SaleView v = sale_view(10, 3);
  v.counts[static_cast<std::size_t>(OrderStatus::queued)] = 2;
  v.units[static_cast<std::size_t>(OrderStatus::queued)] = 7;
  const auto obj = parse_object(render_stats(v));
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("counts").at("QUEUED")), 2);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("units").at("QUEUED")), 7);
  EXPECT_EQ(obj.at("units").as_object().size(), all_statuses.size());
}

TEST(RenderStats, ASaleOfOneBucketHasNoDetailAndNothingInTransit) {
  const auto obj = parse_object(render_stats(sale_view(10, 3)));
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("in_transit")), 0);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("buckets")), 1);
  EXPECT_FALSE(obj.contains("bucket_detail"));
}

TEST(RenderStats, ABucketedSaleShowsEachBucket) {
  SaleView v = sale_view(10, 6);
  v.sale.buckets = 2;
  v.in_transit = 1;
  v.buckets = {{4, 2, 1}, {2, 0, 0}};
  const auto obj = parse_object(render_stats(v));
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("in_transit")), 1);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("buckets")), 2);
  const auto& detail = obj.at("bucket_detail").as_array();
  ASSERT_EQ(detail.size(), 2u);
  EXPECT_EQ(json::value_to<std::int64_t>(detail[0].at("remaining")), 4);
  EXPECT_EQ(json::value_to<std::int64_t>(detail[0].at("queue_depth")), 2);
  EXPECT_EQ(json::value_to<std::int64_t>(detail[0].at("in_transit")), 1);
  EXPECT_EQ(json::value_to<std::int64_t>(detail[1].at("remaining")), 2);
}

TEST(RenderIntake, IsTheStatusObjectWithTicketAndUrls) {
  const std::string ticket = "AbC-_123";
  const auto obj = parse_object(render_intake(view_in(OrderStatus::queued), ticket));
  for (const char* field : {"order_id", "sale_id", "ticket", "status", "position", "poll_after_ms", "status_url",
                            "events_url"})
    EXPECT_TRUE(obj.contains(field)) << field;
  EXPECT_EQ(obj.at("ticket").as_string(), ticket);
  EXPECT_EQ(obj.at("status").as_string(), "QUEUED");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("position")), 37);
  EXPECT_NE(std::string(obj.at("status_url").as_string()).find(ticket), std::string::npos);
  EXPECT_NE(std::string(obj.at("events_url").as_string()).find(ticket), std::string::npos);
  EXPECT_EQ(std::string(obj.at("status_url").as_string()).rfind("/api/orders/status?", 0), 0u);
  EXPECT_EQ(std::string(obj.at("events_url").as_string()).rfind("/api/orders/events?", 0), 0u);
}

// --- render_sale ---

TEST(RenderSale, HasEveryFieldOfTheContract) {
  const auto obj = parse_object(render_sale(sale_view(10, 4), t0 + 1));
  for (const char* field : {"sale_id", "item", "stock", "remaining", "state", "starts_at", "ends_at", "buckets"})
    EXPECT_TRUE(obj.contains(field)) << field;
  EXPECT_EQ(obj.at("sale_id").as_string(), "sale-1");
  EXPECT_EQ(obj.at("item").as_string(), "phone \"pro\" \xe7\xa7\x92");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("stock")), 10);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("remaining")), 4);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("starts_at").as_string())), t0);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("ends_at").as_string())), t0 + 3'600'000);
}

TEST(RenderSale, ADrawSaleShowsItsAdmissionAndAFirstComeOneNone) {
  EXPECT_FALSE(parse_object(render_sale(sale_view(10, 4), t0 + 1)).contains("admission"));
  auto v = sale_view(10, 10);
  v.sale.admission = {flashgate::domain::Admission::draw, 10'000, 300'000};
  const auto obj = parse_object(render_sale(v, t0 - 1));
  EXPECT_EQ(obj.at("admission").as_string(), "draw");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("draw_window_ms")), 10'000);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("prequeue_ms")), 300'000);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("entry_opens_at").as_string())), t0 - 300'000);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("draw_at").as_string())), t0 + 10'000);
}

TEST(RenderSale, StateUpcomingBeforeTheStart) {
  EXPECT_EQ(parse_object(render_sale(sale_view(10, 10), t0 - 1)).at("state").as_string(), "upcoming");
}

TEST(RenderSale, StateOpenInsideTheWindow) {
  EXPECT_EQ(parse_object(render_sale(sale_view(10, 1), t0)).at("state").as_string(), "open");
}

TEST(RenderSale, StateSoldOutWhenNothingRemains) {
  EXPECT_EQ(parse_object(render_sale(sale_view(10, 0), t0 + 1)).at("state").as_string(), "sold_out");
}

TEST(RenderSale, StateEndedAfterTheEndEvenIfSoldOut) {
  EXPECT_EQ(parse_object(render_sale(sale_view(10, 3), t0 + 3'600'000)).at("state").as_string(), "ended");
  EXPECT_EQ(parse_object(render_sale(sale_view(10, 0), t0 + 3'600'000)).at("state").as_string(), "ended");
}

TEST(RenderSale, AbsentTimesAreNull) {
  SaleView v = sale_view(10, 10);
  v.sale.starts_at.reset();
  v.sale.ends_at.reset();
  const auto obj = parse_object(render_sale(v, t0));
  EXPECT_TRUE(obj.at("starts_at").is_null());
  EXPECT_TRUE(obj.at("ends_at").is_null());
  EXPECT_EQ(obj.at("state").as_string(), "open");
}

// --- render_stats ---

TEST(RenderStats, HasEveryFieldOfTheContract) {
  const auto obj = parse_object(render_stats(sale_view(10, 4)));
  for (const char* field : {"sale_id", "remaining", "remaining_db", "queue_depth", "counts"})
    EXPECT_TRUE(obj.contains(field)) << field;
  EXPECT_EQ(obj.at("sale_id").as_string(), "sale-1");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("remaining")), 4);
}

TEST(RenderStats, CountsEveryStatus) {
  SaleView v = sale_view(100, 50);
  for (OrderStatus s : all_statuses) v.counts[static_cast<std::size_t>(s)] = 10 + static_cast<std::size_t>(s);
  v.queue_depth = 10;
  const auto obj = parse_object(render_stats(v));
  ASSERT_TRUE(obj.at("counts").is_object());
  const auto& counts = obj.at("counts").as_object();
  EXPECT_EQ(counts.size(), 8u);
  for (const char* name : {"QUEUED", "PROCESSING", "CONFIRMED", "PAID", "FAILED", "CANCELLED", "ENTERED", "NOT_DRAWN"})
    EXPECT_TRUE(counts.contains(name)) << name;
  for (OrderStatus s : all_statuses)
    EXPECT_EQ(json::value_to<std::int64_t>(counts.at(to_string(s))), 10 + static_cast<std::int64_t>(s))
        << to_string(s);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("queue_depth")), 10);
}

TEST(RenderStats, ZeroCountsArePresent) {
  const auto obj = parse_object(render_stats(sale_view(10, 10)));
  const auto& counts = obj.at("counts").as_object();
  for (OrderStatus s : all_statuses) EXPECT_EQ(json::value_to<std::int64_t>(counts.at(to_string(s))), 0);
}

TEST(RenderStats, RemainingDbIsTheLastFlushedValueOrNull) {
  SaleView v = sale_view(10, 4);
  EXPECT_TRUE(parse_object(render_stats(v)).at("remaining_db").is_null());
  v.remaining_db = 6;
  EXPECT_EQ(json::value_to<std::int64_t>(parse_object(render_stats(v)).at("remaining_db")), 6);
}

// --- byte for byte what the boost::json version rendered ---

// The first version of the renderers, kept as the reference the hand-written
// ones must match exactly, key order and escaping included.
namespace reference {

json::value optional_time(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return json::string(format_rfc3339(*t));
}

json::object status_object(const OrderView& view) {
  const auto& o = view.order;
  json::object obj;
  obj["order_id"] = o.order_id;
  obj["sale_id"] = o.sale_id;
  obj["status"] = to_string(o.status);
  obj["version"] = o.version;
  if (o.status == OrderStatus::queued) obj["position"] = view.position;
  else obj["position"] = nullptr;
  obj["poll_after_ms"] = view.poll_after_ms;
  if (o.status == OrderStatus::queued) {
    if (view.estimated_wait_ms) obj["estimated_wait_ms"] = *view.estimated_wait_ms;
    else obj["estimated_wait_ms"] = nullptr;
  }
  if (o.reason.empty()) obj["reason"] = nullptr;
  else obj["reason"] = o.reason;
  obj["updated_at"] = format_rfc3339(o.updated_at);
  obj["quantity"] = o.quantity;
  if (!o.external_id.empty()) obj["external_id"] = o.external_id;
  return obj;
}

std::string render_status(const OrderView& view) { return json::serialize(status_object(view)); }

std::string render_intake(const OrderView& view, const std::string& ticket) {
  json::object obj = status_object(view);
  obj["ticket"] = ticket;
  obj["status_url"] = "/api/orders/status?ticket=" + ticket;
  obj["events_url"] = "/api/orders/events?ticket=" + ticket;
  return json::serialize(obj);
}

std::string render_sale(const SaleView& view, TimeMs now) {
  const auto& s = view.sale;
  json::object obj;
  obj["sale_id"] = s.sale_id;
  obj["item"] = s.item;
  obj["stock"] = s.stock;
  obj["remaining"] = view.remaining;
  obj["state"] = to_string(flashgate::domain::sale_state(s, view.remaining, now));
  obj["starts_at"] = optional_time(s.starts_at);
  obj["ends_at"] = optional_time(s.ends_at);
  obj["max_per_buyer"] = s.max_per_buyer;
  obj["buckets"] = s.buckets;
  return json::serialize(obj);
}

std::string render_stats(const SaleView& view) {
  json::object counts;
  for (auto status : all_statuses) counts[to_string(status)] = view.counts[static_cast<std::size_t>(status)];
  json::object obj;
  obj["sale_id"] = view.sale.sale_id;
  obj["stock"] = view.sale.stock;
  obj["remaining"] = view.remaining;
  if (view.remaining_db) obj["remaining_db"] = *view.remaining_db;
  else obj["remaining_db"] = nullptr;
  obj["queue_depth"] = view.queue_depth;
  obj["counts"] = std::move(counts);
  json::object units;
  for (auto status : all_statuses) units[to_string(status)] = view.units[static_cast<std::size_t>(status)];
  obj["units"] = std::move(units);
  obj["in_transit"] = view.in_transit;
  obj["buckets"] = view.sale.buckets;
  if (!view.buckets.empty()) {
    json::array detail;
    for (const auto& b : view.buckets)
      detail.push_back(json::object{{"remaining", b.remaining}, {"queue_depth", b.queue_depth}, {"in_transit", b.in_transit}});
    obj["bucket_detail"] = std::move(detail);
  }
  return json::serialize(obj);
}

}  // namespace reference

// Valid UTF-8 all of them, so that the output also parses back.
const std::string tricky_strings[] = {
    "",
    "plain",
    "say \"hi\" \\ back/slash",
    "line\nbreak\ttab\rcr\bbs\fff",
    std::string("nul\0and\x01\x1f\x7f", 10),
    "\xe7\xa7\x92\xe6\x9d\x80 caf\xc3\xa9 \xf0\x9f\x93\xb1 \xe2\x80\xa8",
};

// Tickets are base64url (TicketCodec::seal): every character of that alphabet.
const std::string base64url_ticket = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr auto i64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto i64_min = std::numeric_limits<std::int64_t>::min();
constexpr auto u64_max = std::numeric_limits<std::uint64_t>::max();

TEST(RenderExact, StatusAndIntakeMatchTheBoostJsonVersion) {
  int compared = 0;
  for (OrderStatus s : all_statuses)
    for (const auto& reason : tricky_strings)
      for (std::uint64_t position : {std::uint64_t{0}, std::uint64_t{37}, u64_max})
        for (std::int64_t poll_after : {std::int64_t{0}, std::int64_t{400}, std::int64_t{-1}, i64_max}) {
          OrderView v = view_in(s);
          v.order.reason = reason;
          v.position = position;
          v.poll_after_ms = poll_after;
          v.order.version = position == u64_max ? u64_max : 1 + position;
          v.order.updated_at = poll_after == -1 ? TimeMs{-1} : t0 + poll_after % 1000;
          v.order.quantity = position == u64_max ? i64_max : 1 + static_cast<std::int64_t>(position % 5);
          if (poll_after != 0) v.estimated_wait_ms = poll_after;
          ASSERT_EQ(render_status(v), reference::render_status(v));
          for (const auto& ticket : {std::string(), std::string("AbC-_123"), std::string(140, 'T'), base64url_ticket})
            ASSERT_EQ(render_intake(v, ticket), reference::render_intake(v, ticket));
          ++compared;
        }
  EXPECT_EQ(compared, all_statuses.size() * 6 * 3 * 4);
}

TEST(RenderExact, StatusWithTrickyIdsMatchesTheBoostJsonVersion) {
  for (const auto& id : tricky_strings) {
    OrderView v = view_in(OrderStatus::failed);
    v.order.order_id = id;
    v.order.sale_id = id + id;
    v.order.reason = id;
    v.order.external_id = id;
    EXPECT_EQ(render_status(v), reference::render_status(v)) << id;
  }
}

TEST(RenderExact, SaleMatchesTheBoostJsonVersionWithEveryOptionalAndState) {
  for (const auto& item : tricky_strings)
    for (bool has_start : {false, true})
      for (bool has_end : {false, true})
        for (std::int64_t remaining : {std::int64_t{0}, std::int64_t{4}, i64_min})
          for (TimeMs now : {t0 - 1, t0, t0 + 3'600'000, TimeMs{0}}) {
            SaleView v = sale_view(remaining == i64_min ? i64_max : 10, remaining);
            v.sale.item = item;
            v.sale.sale_id = item.empty() ? "s" : item;
            if (!has_start) v.sale.starts_at.reset();
            if (!has_end) v.sale.ends_at.reset();
            ASSERT_EQ(render_sale(v, now), reference::render_sale(v, now));
            const auto obj = parse_object(render_sale(v, now));
            EXPECT_EQ(std::string_view(obj.at("item").as_string()), item);
            EXPECT_EQ(obj.at("starts_at").is_null(), !has_start);
            EXPECT_EQ(obj.at("ends_at").is_null(), !has_end);
          }
}

TEST(RenderExact, StatsMatchTheBoostJsonVersion) {
  const std::optional<std::int64_t> remaining_dbs[] = {std::nullopt, 0, 6, -1, i64_min, i64_max};
  for (const auto& remaining_db : remaining_dbs)
    for (std::uint64_t depth : {std::uint64_t{0}, std::uint64_t{10}, u64_max}) {
      SaleView v = sale_view(100, 50);
      v.remaining_db = remaining_db;
      v.queue_depth = depth;
      for (OrderStatus s : all_statuses) {
        v.counts[static_cast<std::size_t>(s)] = depth / (1 + static_cast<int>(s));
        v.units[static_cast<std::size_t>(s)] = 3 * depth / (1 + static_cast<int>(s));
      }
      ASSERT_EQ(render_stats(v), reference::render_stats(v));
      EXPECT_EQ(parse_object(render_stats(v)).at("remaining_db").is_null(), !remaining_db);
    }
  SaleView tricky_id = sale_view(1, 1);
  tricky_id.sale.sale_id = tricky_strings[3];
  EXPECT_EQ(render_stats(tricky_id), reference::render_stats(tricky_id));
  SaleView bucketed = sale_view(100, 50);
  bucketed.sale.buckets = 3;
  bucketed.in_transit = 4;
  bucketed.buckets = {{20, 1, 4}, {0, 0, 0}, {30, u64_max, 0}};
  EXPECT_EQ(render_stats(bucketed), reference::render_stats(bucketed));
}

TEST(RenderExact, ReasonAndTicketParseBackToThemselves) {
  for (const auto& text : tricky_strings) {
    OrderView v = view_in(OrderStatus::failed);
    v.order.reason = text;
    const auto obj = parse_object(render_intake(v, base64url_ticket));
    if (text.empty()) EXPECT_TRUE(obj.at("reason").is_null());
    else EXPECT_EQ(std::string_view(obj.at("reason").as_string()), text);
    EXPECT_EQ(std::string_view(obj.at("ticket").as_string()), base64url_ticket);
    EXPECT_EQ(std::string_view(obj.at("status_url").as_string()), "/api/orders/status?ticket=" + base64url_ticket);
    EXPECT_EQ(std::string_view(obj.at("events_url").as_string()), "/api/orders/events?ticket=" + base64url_ticket);
  }
}

}  // namespace
