#include "domain/sale.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::max_item_length;
using flashgate::domain::max_stock;
using flashgate::domain::Sale;
using flashgate::domain::sale_state;
using flashgate::domain::SaleState;
using flashgate::domain::TimeMs;
using flashgate::domain::to_string;
using flashgate::domain::validate_new_sale;
using flashgate::domain::window_refusal;

constexpr TimeMs start = 1'800'000'000'000;
constexpr TimeMs end = start + 3'600'000;

Sale windowed_sale() {
  Sale s;
  s.sale_id = "sale-1";
  s.item = "phone";
  s.stock = 10;
  s.starts_at = start;
  s.ends_at = end;
  return s;
}

Sale open_ended_sale() {
  Sale s;
  s.sale_id = "sale-2";
  s.item = "phone";
  s.stock = 10;
  return s;
}

// --- sale_state ---

TEST(Sale, UpcomingBeforeStart) { EXPECT_EQ(sale_state(windowed_sale(), 10, start - 1), SaleState::upcoming); }

TEST(Sale, OpenFromTheStartInstant) { EXPECT_EQ(sale_state(windowed_sale(), 10, start), SaleState::open); }

TEST(Sale, OpenUntilJustBeforeTheEnd) { EXPECT_EQ(sale_state(windowed_sale(), 1, end - 1), SaleState::open); }

TEST(Sale, EndedFromTheEndInstant) {
  EXPECT_EQ(sale_state(windowed_sale(), 10, end), SaleState::ended);
  EXPECT_EQ(sale_state(windowed_sale(), 10, end + 1'000'000), SaleState::ended);
}

TEST(Sale, SoldOutWhenNothingRemainsWhileOpen) {
  EXPECT_EQ(sale_state(windowed_sale(), 0, start + 1), SaleState::sold_out);
}

TEST(Sale, EndedWinsOverSoldOut) { EXPECT_EQ(sale_state(windowed_sale(), 0, end), SaleState::ended); }

TEST(Sale, NoTimesMeansAlwaysOpen) {
  EXPECT_EQ(sale_state(open_ended_sale(), 10, 0), SaleState::open);
  EXPECT_EQ(sale_state(open_ended_sale(), 10, end * 10), SaleState::open);
  EXPECT_EQ(sale_state(open_ended_sale(), 0, end), SaleState::sold_out);
}

TEST(Sale, OnlyAStartMeansItNeverEnds) {
  Sale s = open_ended_sale();
  s.starts_at = start;
  EXPECT_EQ(sale_state(s, 5, start - 1), SaleState::upcoming);
  EXPECT_EQ(sale_state(s, 5, end * 10), SaleState::open);
}

TEST(Sale, StateNamesAreTheContractsSpelling) {
  EXPECT_EQ(to_string(SaleState::upcoming), "upcoming");
  EXPECT_EQ(to_string(SaleState::open), "open");
  EXPECT_EQ(to_string(SaleState::sold_out), "sold_out");
  EXPECT_EQ(to_string(SaleState::ended), "ended");
}

// --- window_refusal ---

TEST(Sale, IntakeBeforeStartIsSaleNotOpen) {
  EXPECT_EQ(window_refusal(windowed_sale(), start - 1), ErrorCode::sale_not_open);
}

TEST(Sale, IntakeInsideTheWindowIsNotRefused) {
  EXPECT_EQ(window_refusal(windowed_sale(), start), std::nullopt);
  EXPECT_EQ(window_refusal(windowed_sale(), end - 1), std::nullopt);
}

TEST(Sale, IntakeFromTheEndIsSaleEnded) {
  EXPECT_EQ(window_refusal(windowed_sale(), end), ErrorCode::sale_ended);
  EXPECT_EQ(window_refusal(windowed_sale(), end + 1), ErrorCode::sale_ended);
}

TEST(Sale, WindowRefusalIgnoresStock) {
  Sale s = windowed_sale();
  s.stock = 0;
  EXPECT_EQ(window_refusal(s, start + 1), std::nullopt);
}

TEST(Sale, SaleWithoutTimesIsNeverRefusedByItsWindow) {
  EXPECT_EQ(window_refusal(open_ended_sale(), 0), std::nullopt);
  EXPECT_EQ(window_refusal(open_ended_sale(), end * 10), std::nullopt);
}

// --- validate_new_sale ---

TEST(Sale, ValidSaleIsAccepted) {
  EXPECT_EQ(validate_new_sale(windowed_sale()), std::nullopt);
  EXPECT_EQ(validate_new_sale(open_ended_sale()), std::nullopt);
}

TEST(Sale, ZeroAndMaximumStockAreAccepted) {
  Sale s = open_ended_sale();
  s.stock = 0;
  EXPECT_EQ(validate_new_sale(s), std::nullopt);
  s.stock = max_stock;
  EXPECT_EQ(validate_new_sale(s), std::nullopt);
}

TEST(Sale, BadIdIsRefused) {
  for (const char* id : {"", "a/b", "a b", "caf\xc3\xa9"}) {
    Sale s = open_ended_sale();
    s.sale_id = id;
    const auto error = validate_new_sale(s);
    ASSERT_TRUE(error) << id;
    EXPECT_EQ(error->code, ErrorCode::invalid_request);
    EXPECT_NE(error->message.find("sale_id"), std::string::npos) << error->message;
  }
  Sale s = open_ended_sale();
  s.sale_id = std::string(65, 'a');
  EXPECT_TRUE(validate_new_sale(s));
}

TEST(Sale, EmptyItemIsRefused) {
  Sale s = open_ended_sale();
  s.item = "";
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
  EXPECT_NE(error->message.find("item"), std::string::npos) << error->message;
}

TEST(Sale, OverlongItemIsRefused) {
  Sale s = open_ended_sale();
  s.item = std::string(max_item_length, 'x');
  EXPECT_EQ(validate_new_sale(s), std::nullopt);
  s.item = std::string(max_item_length + 1, 'x');
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
}

TEST(Sale, NegativeStockIsRefused) {
  Sale s = open_ended_sale();
  s.stock = -1;
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
  EXPECT_NE(error->message.find("stock"), std::string::npos) << error->message;
}

TEST(Sale, StockAboveTheMaximumIsRefused) {
  Sale s = open_ended_sale();
  s.stock = max_stock + 1;
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
  EXPECT_NE(error->message.find("stock"), std::string::npos) << error->message;
}

TEST(Sale, EndAtTheStartIsRefused) {
  Sale s = windowed_sale();
  s.ends_at = start;
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
  EXPECT_NE(error->message.find("ends_at"), std::string::npos) << error->message;
}

TEST(Sale, EndBeforeTheStartIsRefused) {
  Sale s = windowed_sale();
  s.ends_at = start - 1;
  const auto error = validate_new_sale(s);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_request);
}

TEST(Sale, EndOneMillisecondAfterTheStartIsAccepted) {
  Sale s = windowed_sale();
  s.ends_at = start + 1;
  EXPECT_EQ(validate_new_sale(s), std::nullopt);
}

}  // namespace
