#include "gateway/render.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

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
  for (const char* field : {"sale_id", "item", "stock", "remaining", "state", "starts_at", "ends_at"})
    EXPECT_TRUE(obj.contains(field)) << field;
  EXPECT_EQ(obj.at("sale_id").as_string(), "sale-1");
  EXPECT_EQ(obj.at("item").as_string(), "phone \"pro\" \xe7\xa7\x92");
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("stock")), 10);
  EXPECT_EQ(json::value_to<std::int64_t>(obj.at("remaining")), 4);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("starts_at").as_string())), t0);
  EXPECT_EQ(parse_rfc3339(std::string(obj.at("ends_at").as_string())), t0 + 3'600'000);
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

TEST(RenderStats, CountsAllSixStatuses) {
  SaleView v = sale_view(100, 50);
  for (OrderStatus s : all_statuses) v.counts[static_cast<std::size_t>(s)] = 10 + static_cast<std::size_t>(s);
  v.queue_depth = 10;
  const auto obj = parse_object(render_stats(v));
  ASSERT_TRUE(obj.at("counts").is_object());
  const auto& counts = obj.at("counts").as_object();
  EXPECT_EQ(counts.size(), 6u);
  for (const char* name : {"QUEUED", "PROCESSING", "CONFIRMED", "PAID", "FAILED", "CANCELLED"})
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

}  // namespace
