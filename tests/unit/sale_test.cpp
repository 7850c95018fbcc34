#include "domain/sale.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::max_item_length;
using flashgate::domain::max_stock;
using flashgate::domain::max_units_per_buyer;
using flashgate::domain::quantity_refusal;
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

// --- quantities and the buyer's limit (issue #26) ---

Sale limited_sale(std::int64_t max_per_buyer) {
  Sale s = open_ended_sale();
  s.max_per_buyer = max_per_buyer;
  return s;
}

TEST(Sale, OneUnitPerBuyerByDefault) { EXPECT_EQ(open_ended_sale().max_per_buyer, 1); }

TEST(Sale, MaxPerBuyerOutsideItsRangeIsRefused) {
  for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, max_units_per_buyer + 1}) {
    const auto error = validate_new_sale(limited_sale(bad));
    ASSERT_TRUE(error) << bad;
    EXPECT_EQ(error->code, ErrorCode::invalid_request);
    EXPECT_NE(error->message.find("max_per_buyer"), std::string::npos) << error->message;
  }
  EXPECT_EQ(validate_new_sale(limited_sale(max_units_per_buyer)), std::nullopt);
}

TEST(Sale, QuantityWithinTheLimitAndTheStockIsNotRefused) {
  EXPECT_EQ(quantity_refusal(limited_sale(3), 3, 0, 3), std::nullopt);
  EXPECT_EQ(quantity_refusal(limited_sale(3), 1, 2, 10), std::nullopt);
  EXPECT_EQ(quantity_refusal(open_ended_sale(), 1, 0, 1), std::nullopt);
}

TEST(Sale, QuantityBelowOneOrAboveTheLimitIsInvalid) {
  for (std::int64_t quantity : {0, -5, 4}) {
    const auto error = quantity_refusal(limited_sale(3), quantity, 0, 100);
    ASSERT_TRUE(error) << quantity;
    EXPECT_EQ(error->code, ErrorCode::invalid_request);
  }
}

TEST(Sale, SoldOutOnlyWhenNoUnitIsLeft) {
  EXPECT_EQ(quantity_refusal(limited_sale(3), 1, 0, 0)->code, ErrorCode::sold_out);
  // Sold out comes before the buyer's limit: what a sold-out book answers from memory.
  EXPECT_EQ(quantity_refusal(limited_sale(3), 1, 3, 0)->code, ErrorCode::sold_out);
  const auto short_of = quantity_refusal(limited_sale(3), 3, 0, 2);
  ASSERT_TRUE(short_of);
  EXPECT_EQ(short_of->code, ErrorCode::not_enough_stock);
  EXPECT_EQ(short_of->remaining, 2);
}

TEST(Sale, TheBuyersUnitsOverTheWholeSaleAreBounded) {
  EXPECT_EQ(quantity_refusal(limited_sale(3), 2, 2, 100)->code, ErrorCode::buyer_limit_reached);
  EXPECT_EQ(quantity_refusal(limited_sale(3), 1, 3, 100)->code, ErrorCode::buyer_limit_reached);
  // The limit before the stock: asking for more than one may have is not a question of stock.
  EXPECT_EQ(quantity_refusal(limited_sale(3), 2, 2, 1)->code, ErrorCode::buyer_limit_reached);
}

}  // namespace

namespace items_cases {

using flashgate::domain::buyer_limit;
using flashgate::domain::ErrorCode;
using flashgate::domain::find_item;
using flashgate::domain::item_refusal;
using flashgate::domain::Sale;
using flashgate::domain::SaleItem;

Sale two_item_sale() {
  Sale sale;
  sale.sale_id = "event-1";
  sale.item = "Singles' Day";
  sale.items = {SaleItem{"phone", "Phone X", 10, 1}, SaleItem{"buds", "Buds", 40, 3}};
  sale.stock = 50;
  return sale;
}

TEST(SaleItems, ASaleOfSeveralItemsIsAccepted) { EXPECT_FALSE(validate_new_sale(two_item_sale())); }

TEST(SaleItems, StockMustBeTheSumOfTheItems) {
  Sale sale = two_item_sale();
  sale.stock = 49;
  const auto refused = validate_new_sale(sale);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::invalid_request);
}

TEST(SaleItems, EachItemsFieldsAreChecked) {
  auto refused_with = [](auto change) {
    Sale sale = two_item_sale();
    change(sale.items[1]);
    sale.stock = sale.items[0].stock + sale.items[1].stock;
    return validate_new_sale(sale);
  };
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.item_id = "has space"; }));
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.item_id = ""; }));
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.item_id = "phone"; })) << "ids are unique";
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.name = ""; }));
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.name = std::string(257, 'n'); }));
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.stock = -1; }));
  EXPECT_TRUE(refused_with([](SaleItem& i) { i.max_per_buyer = 0; }));
  EXPECT_FALSE(refused_with([](SaleItem& i) { i.stock = 0; })) << "an item may start with none";
}

TEST(SaleItems, AtMostAHundredItems) {
  Sale sale = two_item_sale();
  sale.items.clear();
  for (int i = 0; i < 101; ++i) sale.items.push_back(SaleItem{std::to_string(i), "n", 1, 1});
  sale.stock = 101;
  EXPECT_TRUE(validate_new_sale(sale));
  sale.items.pop_back();
  sale.stock = 100;
  EXPECT_FALSE(validate_new_sale(sale));
}

TEST(SaleItems, ItemsAndBucketsDoNotCombine) {
  Sale sale = two_item_sale();
  sale.buckets = 2;
  EXPECT_TRUE(validate_new_sale(sale));
}

TEST(SaleItems, AnIntakeMustNameAnItemOfTheSale) {
  const Sale sale = two_item_sale();
  EXPECT_FALSE(item_refusal(sale, "buds"));
  const auto none = item_refusal(sale, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->code, ErrorCode::invalid_request);
  const auto unknown = item_refusal(sale, "tv");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->code, ErrorCode::item_not_found);
  EXPECT_EQ(flashgate::domain::http_status(unknown->code), 404);
}

TEST(SaleItems, ASaleOfOneItemIgnoresTheItemNamed) {
  EXPECT_FALSE(item_refusal(open_ended_sale(), "anything"));
  EXPECT_FALSE(item_refusal(open_ended_sale(), ""));
}

TEST(SaleItems, TheLimitIsTheItemsOwn) {
  const Sale sale = two_item_sale();
  EXPECT_EQ(buyer_limit(sale, "phone"), 1);
  EXPECT_EQ(buyer_limit(sale, "buds"), 3);
  EXPECT_EQ(buyer_limit(open_ended_sale(), ""), open_ended_sale().max_per_buyer);
  ASSERT_NE(find_item(sale, "buds"), nullptr);
  EXPECT_EQ(find_item(sale, "buds")->name, "Buds");
  EXPECT_EQ(find_item(sale, "tv"), nullptr);
  EXPECT_TRUE(flashgate::domain::quantity_refusal(3, 3, 0, 40) == std::nullopt);
  EXPECT_TRUE(flashgate::domain::quantity_refusal(3, 4, 0, 40));
}

TEST(SaleItems, AnItemsStockKeyNamesSaleAndItem) {
  const std::string key = flashgate::domain::item_stock_key("event-1", "buds");
  EXPECT_EQ(key, "event-1@buds");
  const auto parsed = flashgate::domain::parse_item_stock_key(key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->sale_id, "event-1");
  EXPECT_EQ(parsed->item_id, "buds");
  EXPECT_FALSE(flashgate::domain::parse_item_stock_key("event-1"));
}

}  // namespace items_cases
