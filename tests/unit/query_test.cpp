// QueryParams: percent-decoding of keys and values, with a fast path for the
// components that need none (tickets, numbers).
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "gateway/api.hpp"

namespace {

// The value as a string of its own, whether it was a view into the query or decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::string decoded;
  const auto value = flashgate::gateway::QueryParams(query).get(name, decoded);
  return value ? std::optional<std::string>(*value) : std::nullopt;
}

TEST(QueryParamDecoding, PlainValuesAreReturnedAsGiven) {
  EXPECT_EQ(query_param("ticket=abc-_DEF123&wait=0", "ticket"), std::string("abc-_DEF123"));
  EXPECT_EQ(query_param("ticket=abc&wait=0", "wait"), std::string("0"));
  EXPECT_EQ(query_param("ticket=abc&wait=0", "since"), std::nullopt);
}

TEST(QueryParamDecoding, APlainValueIsAViewIntoTheQueryAndAnEscapedOneIntoTheBuffer) {
  const std::string_view query = "ticket=abc&q=a%20b";
  std::string decoded;
  const flashgate::gateway::QueryParams params(query);
  const auto ticket = params.get("ticket", decoded);
  ASSERT_TRUE(ticket);
  EXPECT_EQ(ticket->data(), query.data() + 7);  // not copied
  EXPECT_TRUE(decoded.empty());
  const auto q = params.get("q", decoded);
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, "a b");
  EXPECT_EQ(q->data(), decoded.data());
}

TEST(QueryParamDecoding, EscapesAndPlusesAreDecodedInValues) {
  EXPECT_EQ(query_param("q=a%20b+c%2B", "q"), std::string("a b c+"));
  EXPECT_EQ(query_param("q=%41%62", "q"), std::string("Ab"));
}

TEST(QueryParamDecoding, AnEncodedKeyMatchesItsDecodedName) {
  EXPECT_EQ(query_param("tic%6Bet=t1", "ticket"), std::string("t1"));
  EXPECT_EQ(query_param("my+key=v", "my key"), std::string("v"));
  EXPECT_EQ(query_param("ticket%=x&ticket=y", "ticket"), std::string("y")) << "a broken key is not the name";
}

TEST(QueryParamDecoding, ABrokenEscapeInTheValueReadsAsAbsent) {
  EXPECT_EQ(query_param("wait=%4", "wait"), std::nullopt);
  EXPECT_EQ(query_param("wait=%zz", "wait"), std::nullopt);
}

TEST(QueryParamDecoding, TheFirstOccurrenceWinsAndAKeyAloneIsEmpty) {
  EXPECT_EQ(query_param("wait=1&wait=2", "wait"), std::string("1"));
  EXPECT_EQ(query_param("flag&wait=2", "flag"), std::string());
  EXPECT_EQ(query_param("&&wait=3&", "wait"), std::string("3"));
  EXPECT_EQ(query_param("a=1&wait", "wait"), std::string());
  EXPECT_EQ(query_param("wait", "wait"), std::string());
  EXPECT_EQ(query_param("a=1&wait", "a"), std::string("1"));
}

TEST(QueryParamDecoding, OnlyTheFirstEqualsSignEndsTheKey) {
  EXPECT_EQ(query_param("x=1=2&y=3", "x"), std::string("1=2"));
  EXPECT_EQ(query_param("x=1=2&y=3", "y"), std::string("3"));
  EXPECT_EQ(query_param("x=&y=3", "x"), std::string());
  EXPECT_EQ(query_param("=3&y=4", "y"), std::string("4"));
  EXPECT_EQ(query_param("=3", ""), std::string("3"));
}

TEST(QueryParams, OneSplitAnswersEveryName) {
  const std::string_view query = "ticket=t1&wait=5&since=%33";
  const flashgate::gateway::QueryParams params(query);
  std::string decoded;
  EXPECT_EQ(params.get("ticket", decoded), std::optional<std::string_view>("t1"));
  EXPECT_EQ(params.get("wait", decoded), std::optional<std::string_view>("5"));
  EXPECT_EQ(params.get("since", decoded), std::optional<std::string_view>("3"));
  EXPECT_EQ(params.get("other", decoded), std::nullopt);
  EXPECT_EQ(flashgate::gateway::QueryParams("").get("", decoded), std::nullopt);
}

}  // namespace
