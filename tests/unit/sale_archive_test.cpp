// The sale life cycle's end: the domain's "settled" rule and the retention
// bound (below), and the memory store's drop_sale (further down).
#include <gtest/gtest.h>

#include <string>

#include "domain/sale_lifecycle.hpp"

namespace {

using flashgate::domain::archive_due;
using flashgate::domain::ErrorCode;
using flashgate::domain::is_settled;
using flashgate::domain::OrderStatus;
using flashgate::domain::Sale;
using flashgate::domain::sale_active_error;
using flashgate::domain::sale_activity;
using flashgate::domain::SaleActivity;
using flashgate::domain::StatusCounts;
using flashgate::domain::TimeMs;
using flashgate::domain::validate_archive_after;

constexpr TimeMs start = 1'800'000'000'000;
constexpr TimeMs end = start + 3'600'000;
constexpr std::int64_t hour = 3'600'000;
constexpr std::int64_t minute = 60'000;

Sale sale_until(std::optional<TimeMs> ends_at) {
  Sale s;
  s.sale_id = "sale-1";
  s.item = "phone";
  s.stock = 10;
  s.starts_at = start;
  s.ends_at = ends_at;
  return s;
}

StatusCounts counts_with(OrderStatus status, std::uint64_t n) {
  StatusCounts counts{};
  counts[static_cast<std::size_t>(status)] = n;
  return counts;
}

TEST(SaleSettled, OpenSaleWithStockIsNotSettled) {
  EXPECT_EQ(sale_activity(sale_until(end), 3, counts_with(OrderStatus::paid, 7), start + 1), SaleActivity::open_with_stock);
  EXPECT_EQ(sale_activity(sale_until(std::nullopt), 1, StatusCounts{}, end + hour), SaleActivity::open_with_stock);
}

TEST(SaleSettled, EndedSaleWithOnlyFinalOrdersIsSettled) {
  StatusCounts counts{};
  counts[static_cast<std::size_t>(OrderStatus::paid)] = 4;
  counts[static_cast<std::size_t>(OrderStatus::failed)] = 1;
  counts[static_cast<std::size_t>(OrderStatus::cancelled)] = 2;
  EXPECT_TRUE(is_settled(sale_until(end), 6, counts, end));
  EXPECT_TRUE(is_settled(sale_until(end), 6, counts, end + 1));
  EXPECT_FALSE(is_settled(sale_until(end), 6, counts, end - 1));
}

TEST(SaleSettled, SoldOutSaleThatNeverEndsIsSettledOnceEveryOrderIsFinal) {
  EXPECT_TRUE(is_settled(sale_until(std::nullopt), 0, counts_with(OrderStatus::paid, 10), start));
  EXPECT_TRUE(is_settled(sale_until(std::nullopt), 0, StatusCounts{}, start));  // a sale of no stock
}

TEST(SaleSettled, AnyOrderNotFinalKeepsTheSaleActive) {
  for (auto status : {OrderStatus::queued, OrderStatus::processing, OrderStatus::confirmed}) {
    auto counts = counts_with(OrderStatus::paid, 9);
    counts[static_cast<std::size_t>(status)] = 1;
    EXPECT_EQ(sale_activity(sale_until(end), 0, counts, end + hour), SaleActivity::orders_not_final)
        << to_string(status);
  }
}

TEST(SaleSettled, ActiveErrorsSayWhy) {
  auto not_final = sale_active_error(SaleActivity::orders_not_final);
  EXPECT_EQ(not_final.code, ErrorCode::sale_active);
  EXPECT_NE(not_final.message.find("not final"), std::string::npos);
  auto open = sale_active_error(SaleActivity::open_with_stock);
  EXPECT_EQ(open.code, ErrorCode::sale_active);
  EXPECT_NE(open.message.find("stock"), std::string::npos);
}

TEST(SaleArchive, DueOnceTheRetentionHasPassedSinceSettled) {
  EXPECT_FALSE(archive_due(start, start + 24 * hour - 1, 24 * hour));
  EXPECT_TRUE(archive_due(start, start + 24 * hour, 24 * hour));
  EXPECT_TRUE(archive_due(start, start + 30 * hour, 24 * hour));
}

TEST(SaleArchive, RetentionNeverShorterThanTicketTtlPlusPaymentTimeout) {
  EXPECT_FALSE(validate_archive_after(24 * hour, hour, 15 * minute));
  EXPECT_FALSE(validate_archive_after(hour + 15 * minute, hour, 15 * minute));
  auto refused = validate_archive_after(hour + 15 * minute - 1, hour, 15 * minute);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::invalid_request);
  EXPECT_NE(refused->message.find("4500000 ms"), std::string::npos);
}

}  // namespace
