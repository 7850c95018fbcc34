#include "gateway/json_writer.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "gateway/exchange.hpp"

namespace {

namespace json = boost::json;
using flashgate::gateway::append_json_string;
using flashgate::gateway::JsonWriter;

std::string written(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// What the writer replaces: boost::json's serializer.
std::string boost_written(std::string_view s) { return json::serialize(json::string(s)); }

// Strings the writer must get right, valid UTF-8 all of them.
const std::string tricky[] = {
    "",
    "plain-id_0123:abc.def",
    "quote \" backslash \\ slash /",
    "\"\\\"\\\\",
    "tab\tnewline\ncr\rbackspace\bformfeed\f",
    std::string("nul \0 inside", 12),
    "\x01\x02\x1f\x7f",
    "caf\xc3\xa9 \xe7\xa7\x92\xe6\x9d\x80 \xf0\x9f\x93\xb1",  // café 秒杀 📱
    "\xe2\x80\xa8\xe2\x80\xa9",                               // U+2028, U+2029: passed through, as boost does
    "</script><!--",
    std::string(1000, 'x') + "\"" + std::string(1000, 'y'),
};

TEST(JsonString, EveryByteIsWrittenAsBoostJsonWritesIt) {
  for (int b = 0; b < 256; ++b) {
    std::string s = "a";  // built with +=: GCC 12 warns (-Wrestrict) on "a" + std::string
    s += static_cast<char>(b);
    s += 'z';
    ASSERT_EQ(written(s), boost_written(s)) << "byte " << b;
  }
}

// The writer looks at eight bytes at a time: every byte at every place of a
// word, and across the end of one, must still be found.
TEST(JsonString, EveryByteIsFoundWhereverItSits) {
  for (std::size_t length = 1; length <= 20; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (int b = 0; b < 256; ++b) {
        std::string s(length, 'k');
        s[at] = static_cast<char>(b);
        ASSERT_EQ(written(s), boost_written(s)) << "byte " << b << " at " << at << " of " << length;
      }
}

TEST(JsonString, ControlCharactersAreEscaped) {
  EXPECT_EQ(written("\n\t\r\b\f"), R"("\n\t\r\b\f")");
  EXPECT_EQ(written(std::string("\0\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(written("\x1a"), R"("\u001a")");  // lower-case hex, as boost::json
}

TEST(JsonString, QuoteAndBackslashAreEscapedSlashIsNot) {
  EXPECT_EQ(written(R"(a"b\c/d)"), R"("a\"b\\c/d")");
}

TEST(JsonString, TrickyStringsMatchBoostAndParseBackToThemselves) {
  for (const auto& s : tricky) {
    const std::string text = written(s);
    EXPECT_EQ(text, boost_written(s)) << s;
    json::error_code ec;
    const json::value v = json::parse(text, ec);
    ASSERT_FALSE(ec) << text;
    ASSERT_TRUE(v.is_string()) << text;
    EXPECT_EQ(std::string_view(v.as_string()), s);
  }
}

TEST(JsonString, ArbitraryBytesMatchBoost) {
  // Invalid UTF-8 included: neither writer checks it, both pass bytes through.
  std::mt19937 rng(42);
  for (int i = 0; i < 20'000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    ASSERT_EQ(written(s), boost_written(s));
  }
}

TEST(JsonString, AppendsAfterWhatIsThere) {
  std::string out = "x=";
  append_json_string(out, "y\n");
  EXPECT_EQ(out, "x=\"y\\n\"");
}

TEST(JsonWriter, ObjectsMatchBoostsSerialization) {
  JsonWriter w(16);  // too small on purpose: the text grows past it
  w.begin_object();
  w.key("s").string("v\"1");
  w.key("two").string("/api?t=", "a\\b");
  w.key("i64").number(std::numeric_limits<std::int64_t>::min());
  w.key("u64").number(std::numeric_limits<std::uint64_t>::max());
  w.key("zero").number(0);
  w.key("none").null();
  w.key("inner").begin_object();
  w.key("a").number(-1);
  w.key("b").number(2u);
  w.end_object();
  w.key("after").begin_object().end_object();
  w.key("last").string("");
  const std::string text = w.end_object().take();

  json::object expected;
  expected["s"] = "v\"1";
  expected["two"] = "/api?t=a\\b";
  expected["i64"] = std::numeric_limits<std::int64_t>::min();
  expected["u64"] = std::numeric_limits<std::uint64_t>::max();
  expected["zero"] = 0;
  expected["none"] = nullptr;
  expected["inner"] = json::object{{"a", -1}, {"b", 2u}};
  expected["after"] = json::object{};
  expected["last"] = "";
  EXPECT_EQ(text, json::serialize(expected));
  EXPECT_EQ(json::parse(text), json::value(expected));
}

// is_plain is what the plain_ writers assume of their text: it must agree
// with the escaper on every byte, wherever in a long string the byte sits.
TEST(JsonWriter, PlainIsExactlyWhatNeedsNoEscape) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string one(1, c);
    const bool needs_no_escape = written(one) == "\"" + one + "\"" && b < 0x7f;
    for (std::size_t at : {std::size_t{0}, std::size_t{17}, std::size_t{130}}) {
      std::string text(131, 'A');
      text[at] = c;
      EXPECT_EQ(JsonWriter::is_plain(text), needs_no_escape) << "byte " << b << " at " << at;
    }
  }
  EXPECT_TRUE(JsonWriter::is_plain(""));
}

TEST(JsonWriter, EmptyObject) { EXPECT_EQ(JsonWriter(0).begin_object().end_object().take(), "{}"); }

TEST(ErrorResponse, BodyIsTheErrorNameAndTheEscapedMessage) {
  using flashgate::domain::ErrorCode;
  for (const auto& message : tricky) {
    const auto r = flashgate::gateway::error_response(ErrorCode::invalid_request, message);
    EXPECT_EQ(r.body, R"({"error":"invalid_request","message":)" + boost_written(message) + "}");
    const json::value v = json::parse(r.body);
    EXPECT_EQ(std::string_view(v.at("message").as_string()), message);
  }
}

// Keys are written in one append up to a length; longer ones take another path to the same text.
TEST(JsonWriter, KeysOfEveryLengthAreWrittenAlike) {
  for (std::size_t length : {std::size_t{1}, std::size_t{43}, std::size_t{44}, std::size_t{45}, std::size_t{46},
                             std::size_t{80}}) {
    const std::string name(length, 'k');
    JsonWriter w(0);
    w.begin_object();
    w.key(name).number(1);
    w.key(name + "2").number(2);
    w.end_object();
    EXPECT_EQ(w.take(), "{\"" + name + "\":1,\"" + name + "2\":2}") << length;
  }
}
}  // namespace
