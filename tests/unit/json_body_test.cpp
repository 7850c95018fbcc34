#include "gateway/json_body.hpp"

#include <boost/json/monotonic_resource.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace {

using flashgate::domain::ErrorCode;
using flashgate::gateway::only_fields;
using flashgate::gateway::optional_string;
using flashgate::gateway::parse_json_object;
using flashgate::gateway::required_integer;
using flashgate::gateway::required_string;

// {"a":{"a":...{"a":1}...}} with `depth` objects.
std::string nested_objects(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += i + 1 < depth ? R"({"a":)" : R"({"a":1)";
  for (int i = 0; i < depth; ++i) s += "}";
  return s;
}

// {"a":[[...[1]...]]} with one object and `depth - 1` arrays.
std::string nested_arrays(int depth) {
  std::string s = R"({"a":)";
  for (int i = 1; i < depth; ++i) s += "[";
  s += "1";
  for (int i = 1; i < depth; ++i) s += "]";
  return s + "}";
}

void expect_refused(std::string_view body) {
  const auto parsed = parse_json_object(body);
  ASSERT_FALSE(parsed) << "accepted: " << body;
  EXPECT_EQ(parsed.error().code, ErrorCode::invalid_request);
  EXPECT_FALSE(parsed.error().message.empty());
}

boost::json::object object_of(std::string_view body) {
  auto parsed = parse_json_object(body);
  EXPECT_TRUE(parsed) << body << ": " << parsed.error().message;
  return parsed ? std::move(parsed).value() : boost::json::object{};
}

void expect_names_field(const flashgate::domain::Error& error, std::string_view field) {
  EXPECT_EQ(error.code, ErrorCode::invalid_request);
  EXPECT_NE(error.message.find(field), std::string::npos) << "'" << error.message << "' does not name " << field;
}

// --- parse_json_object ---

TEST(JsonBody, ParsesAnObject) {
  const auto obj = object_of(R"({"user_id":"u1","stock":5,"nested":{"x":[1,2,{"y":null}]}})");
  EXPECT_EQ(obj.at("user_id").as_string(), "u1");
  EXPECT_EQ(obj.at("stock").as_int64(), 5);
  EXPECT_EQ(obj.size(), 3u);
}

TEST(JsonBody, EmptyObjectAndWhitespaceAreFine) {
  EXPECT_TRUE(object_of("{}").empty());
  EXPECT_EQ(object_of(" \n\t{ \"a\" : 1 } \r\n").size(), 1u);
}

TEST(JsonBody, NonJsonIsRefused) {
  expect_refused("");
  expect_refused("   ");
  expect_refused("user_id=u1");
  expect_refused("{user_id:\"u1\"}");
  expect_refused("{'user_id':'u1'}");
  expect_refused(R"({"user_id":"u1")");
  expect_refused(R"({"user_id":"u1"}})");
  expect_refused(R"({"user_id":"u1",})");
  expect_refused(R"({"user_id":"u1"} {"x":1})");
  expect_refused(R"({"user_id":"u1"} junk)");
  expect_refused(R"({"a":1 /* comment */})");
  expect_refused(R"({"a":NaN})");
  expect_refused(std::string_view("{\"a\":1}\0", 8));
}

TEST(JsonBody, OtherTopLevelValuesAreRefused) {
  expect_refused("[]");
  expect_refused(R"([{"user_id":"u1"}])");
  expect_refused(R"("user_id")");
  expect_refused("42");
  expect_refused("null");
  expect_refused("true");
}

TEST(JsonBody, DuplicateTopLevelKeyIsRefused) {
  expect_refused(R"({"user_id":"u1","user_id":"u2"})");
  expect_refused(R"({"a":1,"b":2,"a":1})");
}

TEST(JsonBody, DuplicateNestedKeyIsRefused) {
  expect_refused(R"({"outer":{"k":1,"k":2}})");
  expect_refused(R"({"list":[{"k":1},{"k":1,"k":2}]})");
  expect_refused(R"({"a":{"b":{"c":{"d":1,"d":1}}}})");
}

TEST(JsonBody, DuplicateKeySpelledWithAnEscapeIsRefused) {
  expect_refused(R"({"user_id":"u1","user\u005fid":"u2"})");
}

TEST(JsonBody, EqualKeysInDifferentObjectsAreFine) {
  const auto obj = object_of(R"({"k":1,"inner":{"k":2},"list":[{"k":3},{"k":4}]})");
  EXPECT_EQ(obj.at("k").as_int64(), 1);
}

TEST(JsonBody, KeysThatShareAPrefixAreNotDuplicates) {
  EXPECT_EQ(object_of(R"({"a":1,"ab":2,"abc":3})").size(), 3u);
}

TEST(JsonBody, InvalidUtf8IsRefused) {
  expect_refused("{\"user_id\":\"\xff\"}");
  expect_refused("{\"user_id\":\"\xc3\"}");          // truncated sequence
  expect_refused("{\"user_id\":\"\xc0\xaf\"}");      // overlong '/'
  expect_refused("{\"user_id\":\"\xed\xa0\x80\"}");  // encoded surrogate
  expect_refused("{\"\xfe\":1}");                    // in a key
}

TEST(JsonBody, ValidUtf8IsAccepted) {
  const auto obj = object_of("{\"item\":\"\xe7\xa7\x92\xe6\x9d\x80 caf\xc3\xa9 \xf0\x9f\x93\xb1\"}");
  EXPECT_EQ(obj.at("item").as_string(), "\xe7\xa7\x92\xe6\x9d\x80 caf\xc3\xa9 \xf0\x9f\x93\xb1");
}

TEST(JsonBody, NestingOfSixteenIsAccepted) {
  EXPECT_TRUE(parse_json_object(nested_objects(16)));
  EXPECT_TRUE(parse_json_object(nested_arrays(16)));
}

TEST(JsonBody, NestingDeeperThanSixteenIsRefused) {
  expect_refused(nested_objects(17));
  expect_refused(nested_arrays(17));
  expect_refused(nested_objects(1000));
  expect_refused(std::string(100'000, '[') + std::string(100'000, ']'));
}

// --- field readers ---

TEST(JsonBody, RequiredStringReturnsTheValue) {
  const auto obj = object_of(R"({"user_id":"u1"})");
  const auto v = required_string(obj, "user_id");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "u1");
}

TEST(JsonBody, MissingRequiredStringNamesTheField) {
  const auto v = required_string(object_of(R"({"other":"x"})"), "user_id");
  ASSERT_FALSE(v);
  expect_names_field(v.error(), "user_id");
}

TEST(JsonBody, NonStringRequiredStringNamesTheField) {
  for (const char* body : {R"({"user_id":1})", R"({"user_id":null})", R"({"user_id":["u1"]})",
                           R"({"user_id":{"id":"u1"}})", R"({"user_id":true})"}) {
    const auto v = required_string(object_of(body), "user_id");
    ASSERT_FALSE(v) << body;
    expect_names_field(v.error(), "user_id");
  }
}

TEST(JsonBody, EmptyStringIsAString) {
  const auto v = required_string(object_of(R"({"user_id":""})"), "user_id");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "");
}

TEST(JsonBody, OptionalStringAbsentOrNullIsEmpty) {
  const auto absent = optional_string(object_of(R"({})"), "starts_at");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
  const auto null = optional_string(object_of(R"({"starts_at":null})"), "starts_at");
  ASSERT_TRUE(null);
  EXPECT_FALSE(null->has_value());
}

TEST(JsonBody, OptionalStringPresentIsReturned) {
  const auto v = optional_string(object_of(R"({"starts_at":"2026-11-24T12:00:00Z"})"), "starts_at");
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "2026-11-24T12:00:00Z");
}

TEST(JsonBody, OptionalStringOfWrongTypeNamesTheField) {
  const auto v = optional_string(object_of(R"({"starts_at":1764000000})"), "starts_at");
  ASSERT_FALSE(v);
  expect_names_field(v.error(), "starts_at");
}

TEST(JsonBody, RequiredIntegerReturnsTheValue) {
  EXPECT_EQ(*required_integer(object_of(R"({"stock":100})"), "stock"), 100);
  EXPECT_EQ(*required_integer(object_of(R"({"stock":0})"), "stock"), 0);
  EXPECT_EQ(*required_integer(object_of(R"({"stock":-5})"), "stock"), -5);
  EXPECT_EQ(*required_integer(object_of(R"({"stock":9223372036854775807})"), "stock"), INT64_MAX);
}

TEST(JsonBody, MissingRequiredIntegerNamesTheField) {
  const auto v = required_integer(object_of(R"({})"), "stock");
  ASSERT_FALSE(v);
  expect_names_field(v.error(), "stock");
}

TEST(JsonBody, RequiredIntegerRefusesFloats) {
  for (const char* body : {R"({"stock":1.5})", R"({"stock":1.0})", R"({"stock":1e3})", R"({"stock":-0.5})"}) {
    const auto v = required_integer(object_of(body), "stock");
    ASSERT_FALSE(v) << body;
    expect_names_field(v.error(), "stock");
  }
}

TEST(JsonBody, RequiredIntegerRefusesStringsAndOtherTypes) {
  for (const char* body : {R"({"stock":"5"})", R"({"stock":null})", R"({"stock":true})", R"({"stock":[5]})"}) {
    const auto v = required_integer(object_of(body), "stock");
    ASSERT_FALSE(v) << body;
    expect_names_field(v.error(), "stock");
  }
}

TEST(JsonBody, RequiredIntegerRefusesValuesBeyondInt64) {
  const auto v = required_integer(object_of(R"({"stock":18446744073709551615})"), "stock");
  ASSERT_FALSE(v);
  expect_names_field(v.error(), "stock");
}

TEST(JsonBody, OnlyFieldsAcceptsAllowedOnes) {
  EXPECT_EQ(only_fields(object_of(R"({"user_id":"u1"})"), {"user_id"}), std::nullopt);
  EXPECT_EQ(only_fields(object_of(R"({})"), {"user_id"}), std::nullopt);
  EXPECT_EQ(only_fields(object_of(R"({"order_id":"o","amount":5})"), {"order_id", "payment_id", "amount"}),
            std::nullopt);
}

TEST(JsonBody, OnlyFieldsNamesTheUnknownField) {
  const auto error = only_fields(object_of(R"({"user_id":"u1","is_admin":true})"), {"user_id"});
  ASSERT_TRUE(error);
  expect_names_field(*error, "is_admin");
}

TEST(JsonBody, OnlyFieldsIsCaseSensitive) {
  const auto error = only_fields(object_of(R"({"User_Id":"u1"})"), {"user_id"});
  ASSERT_TRUE(error);
  expect_names_field(*error, "User_Id");
}

}  // namespace

// Intake bodies are read into a caller's buffer; what does not fit spills to the heap.
TEST(JsonBodyStorage, AnObjectReadIntoACallersBufferHoldsItsValues) {
  unsigned char small[64];
  boost::json::monotonic_resource memory(small, sizeof small);
  const std::string long_value(300, 'x');
  auto r = parse_json_object(R"({"user_id":"u-1","note":")" + long_value + R"("})", &memory);
  ASSERT_TRUE(r);
  EXPECT_EQ(required_string(r.value(), "user_id").value(), "u-1");
  EXPECT_EQ(required_string(r.value(), "note").value(), long_value);
  EXPECT_FALSE(parse_json_object(R"({"a":1,"a":2})", &memory)) << "the same checks with any storage";
}

// --- the intake body's fast path

using flashgate::gateway::sole_id_member;

TEST(SoleIdMember, ReadsTheCommonSpellings) {
  EXPECT_EQ(sole_id_member(R"({"user_id":"alice"})", "user_id"), "alice");
  EXPECT_EQ(sole_id_member(R"({"user_id": "alice"})", "user_id"), "alice");
  EXPECT_EQ(sole_id_member(" \t{ \"user_id\" :\r\n\"a.b_c:d-9\" }\n", "user_id"), "a.b_c:d-9");
  EXPECT_EQ(sole_id_member(R"({"user_id":""})", "user_id"), "");  // the caller refuses it, as the full path does
}

TEST(SoleIdMember, LeavesEverythingElseToTheFullParser) {
  for (std::string_view body : {
           R"({"user_id":"al\u0069ce"})",            // an escape
           R"({"user_id":"al ice"})",                 // a character ids do not have
           R"({"user_id":"alice","user_id":"bob"})",  // duplicate key
           R"({"user_id":"alice","x":1})",            // another member
           R"({"user\u005fid":"alice"})",             // the key spelled with an escape
           R"({"user_ids":"alice"})", R"({"user_i":"alice"})", R"({"user_id":alice})", R"({"user_id":1})",
           R"({"user_id":"alice"}x)", R"({"user_id":"alice"}{})", R"({"user_id":"alice")", R"({"user_id":"alice)",
           R"(["user_id","alice"])", R"({"user_id":"alice"} "x")", "", "{", R"({"user_id")", R"({"user_id":)",
           "{\"user_id\":\"alice\"}\v", "\xef\xbb\xbf{\"user_id\":\"alice\"}"}) {
    EXPECT_EQ(sole_id_member(body, "user_id"), std::nullopt) << body;
  }
}

// Whatever the fast path reads, the strict parser reads the same.
TEST(SoleIdMember, AgreesWithTheStrictParserOnMutatedBodies) {
  std::mt19937 random(7);
  const std::string base = R"({ "user_id" : "user-42.x:y_z" })";
  const std::string alphabet = " {}\":,\\\tu_-.:9aZ\x01\xc3";
  int fast = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body = base;
    for (int edits = 1 + static_cast<int>(random() % 3); edits > 0; --edits) {
      const auto at = random() % (body.size() + 1);
      switch (random() % 3) {
        case 0: body.insert(at, 1, alphabet[random() % alphabet.size()]); break;
        case 1: if (at < body.size()) body.erase(at, 1); break;
        default: if (at < body.size()) body[at] = alphabet[random() % alphabet.size()]; break;
      }
    }
    const auto quick = sole_id_member(body, "user_id");
    if (!quick) continue;
    ++fast;
    const auto parsed = parse_json_object(body);
    ASSERT_TRUE(parsed) << body;
    EXPECT_FALSE(only_fields(parsed.value(), {"user_id"})) << body;
    const auto strict = required_string(parsed.value(), "user_id");
    ASSERT_TRUE(strict) << body;
    EXPECT_EQ(strict.value(), *quick) << body;
  }
  EXPECT_GT(fast, 100);  // the mutations did reach the fast path
}
