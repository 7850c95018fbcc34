#include "sink/sink_protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "domain/secrets.hpp"

namespace {

using flashgate::sink::classify_reply;
using flashgate::sink::OrderRequest;
using flashgate::sink::order_body;
using flashgate::sink::sanitize_reason;
using flashgate::sink::signature_header;
using Kind = flashgate::sink::SinkAnswer::Kind;

TEST(SinkProtocol, OrderBodyCarriesTheOrder) {
  const OrderRequest request{"o-1", "s-1", "alice \"a\"", "flash widget", 1'795'521'600'123};
  const auto body = boost::json::parse(order_body(request)).as_object();
  EXPECT_EQ(body.at("order_id").as_string(), "o-1");
  EXPECT_EQ(body.at("sale_id").as_string(), "s-1");
  EXPECT_EQ(body.at("user_id").as_string(), "alice \"a\"");
  EXPECT_EQ(body.at("item").as_string(), "flash widget");
  EXPECT_EQ(body.at("accepted_at").as_string(), "2026-11-24T12:00:00.123Z");
  EXPECT_EQ(body.at("quantity").as_int64(), 1);
  EXPECT_EQ(body.size(), 6u);
}

TEST(SinkProtocol, OrderBodyCarriesTheQuantity) {
  OrderRequest request{"o-1", "s-1", "alice", "flash widget", 1'795'521'600'123};
  request.quantity = 3;
  EXPECT_EQ(boost::json::parse(order_body(request)).as_object().at("quantity").as_int64(), 3);
}

TEST(SinkProtocol, OrderBodyNamesTheItemOnlyOfASaleOfSeveral) {
  OrderRequest request{"o-1", "s-1", "alice", "launch day", 1'795'521'600'123};
  EXPECT_FALSE(boost::json::parse(order_body(request)).as_object().contains("item_id"));
  request.item_id = "buds";
  const auto body = boost::json::parse(order_body(request)).as_object();
  EXPECT_EQ(body.at("item_id").as_string(), "buds");
  EXPECT_EQ(body.size(), 7u);
}

TEST(SinkProtocol, SignatureSignsTimestampDotBody) {
  const std::string body = R"({"order_id":"o-1"})";
  const auto header = signature_header("key", 1700000000, body);
  EXPECT_EQ(header, "t=1700000000,v1=" + flashgate::domain::hmac_sha256_hex("key", "1700000000." + body));
  // A known answer, from Python: hmac.new(b"key", b"1700000000.{}", sha256).hexdigest()
  EXPECT_EQ(signature_header("key", 1700000000, "{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
  EXPECT_NE(signature_header("key", 1700000001, body), header);
  EXPECT_NE(signature_header("other", 1700000000, body), header);
}

TEST(SinkProtocol, TwoHundredsAreCreated) {
  auto answer = classify_reply(201, R"({"external_id":"SHOP-42"})", false);
  EXPECT_EQ(answer.kind, Kind::created);
  EXPECT_EQ(answer.external_id, "SHOP-42");
  answer = classify_reply(200, "not json", false);
  EXPECT_EQ(answer.kind, Kind::created);
  EXPECT_EQ(answer.external_id, "");
  answer = classify_reply(204, "", false);
  EXPECT_EQ(answer.kind, Kind::created);
  answer = classify_reply(200, R"({"external_id":42})", false);
  EXPECT_EQ(answer.external_id, "");
  answer = classify_reply(200, R"({"external_id":"x)", true);  // cut: not read
  EXPECT_EQ(answer.kind, Kind::created);
  EXPECT_EQ(answer.external_id, "");
}

TEST(SinkProtocol, AnExternalIdIsKeptOnlyIfValidAndNeverMended) {
  const std::string longest(128, 'x');
  auto answer = classify_reply(201, R"({"external_id":")" + longest + R"("})", false);
  EXPECT_EQ(answer.external_id, longest);
  EXPECT_FALSE(answer.external_id_refused);
  answer = classify_reply(201, R"({"external_id":"shop 7/a:b"})", false);
  EXPECT_EQ(answer.external_id, "shop 7/a:b");
  for (const std::string& bad : {R"({"external_id":")" + longest + R"(y"})", std::string(R"({"external_id":"a\nb"})"),
                                std::string(R"({"external_id":"caf\u00e9"})"), std::string(R"({"external_id":""})"),
                                std::string(R"({"external_id":7})"), std::string(R"({"external_id":null})")}) {
    answer = classify_reply(201, bad, false);
    EXPECT_EQ(answer.kind, Kind::created) << bad;
    EXPECT_EQ(answer.external_id, "") << bad;
    EXPECT_TRUE(answer.external_id_refused) << bad;
  }
  answer = classify_reply(201, R"({"id":"elsewhere"})", false);  // none said: nothing refused
  EXPECT_FALSE(answer.external_id_refused);
  answer = classify_reply(409, R"({"external_id":"SHOP-1","message":"no"})", false);  // only a creation has one
  EXPECT_EQ(answer.external_id, "");
}

TEST(SinkProtocol, FourHundredsAreRefusedWithTheShopsWords) {
  auto answer = classify_reply(409, R"({"error":"duplicate","message":"buyer is blocked"})", false);
  EXPECT_EQ(answer.kind, Kind::refused);
  EXPECT_EQ(answer.reason, "buyer is blocked");
  answer = classify_reply(422, R"({"error":"out_of_region"})", false);
  EXPECT_EQ(answer.reason, "out_of_region");
  answer = classify_reply(400, "<html>bad</html>", false);
  EXPECT_EQ(answer.kind, Kind::refused);
  EXPECT_EQ(answer.reason, "refused by the order service (HTTP 400)");
  answer = classify_reply(409, R"({"message":"x)", true);
  EXPECT_EQ(answer.kind, Kind::refused);
  EXPECT_EQ(answer.reason, "refused by the order service (HTTP 409)");
}

TEST(SinkProtocol, EverythingElseIsUnavailable) {
  for (int status : {500, 502, 503, 504, 301, 302, 307, 308, 100, 0, 600})
    EXPECT_EQ(classify_reply(status, R"({"message":"later"})", false).kind, Kind::unavailable) << status;
}

TEST(SinkProtocol, ReasonIsCutAndPrintable) {
  EXPECT_EQ(sanitize_reason("plain words"), "plain words");
  EXPECT_EQ(sanitize_reason("line\nbreak\ttab\x7f\x01"), "line?break?tab??");
  EXPECT_EQ(sanitize_reason("caf\xc3\xa9"), "caf??");
  EXPECT_EQ(sanitize_reason(std::string(500, 'a')).size(), 200u);
  const auto answer = classify_reply(409, R"({"message":")" + std::string(300, 'b') + "\"}", false);
  EXPECT_EQ(answer.reason, std::string(200, 'b'));
}

}  // namespace

namespace {

flashgate::database::OutboxEvent paid_event() {
  flashgate::database::OutboxEvent event;
  event.id = 7;
  event.order_id = "o-9";
  event.sale_id = "s-1";
  event.user_id = "bob";
  event.status = "PAID";
  event.version = 4;
  event.external_id = "SHOP-3";
  event.at = 1'795'521'600'123;
  event.quantity = 3;
  return event;
}

TEST(SinkProtocol, EventBodyCarriesTheOutcome) {
  const auto body = boost::json::parse(flashgate::sink::event_body(paid_event())).as_object();
  EXPECT_EQ(body.at("order_id").as_string(), "o-9");
  EXPECT_EQ(body.at("sale_id").as_string(), "s-1");
  EXPECT_EQ(body.at("user_id").as_string(), "bob");
  EXPECT_EQ(body.at("status").as_string(), "PAID");
  EXPECT_EQ(body.at("version").to_number<std::int64_t>(), 4);
  EXPECT_EQ(body.at("reason").as_string(), "");  // a string even when there is none
  EXPECT_EQ(body.at("external_id").as_string(), "SHOP-3");
  EXPECT_EQ(body.at("at").to_number<std::int64_t>(), 1'795'521'600'123);
  EXPECT_EQ(body.at("quantity").to_number<std::int64_t>(), 3);
  EXPECT_EQ(body.size(), 9u);  // the outbox's own id is not the shop's business
}

TEST(SinkProtocol, EventBodyNamesTheItemOnlyOfASaleOfSeveral) {
  auto event = paid_event();
  EXPECT_FALSE(boost::json::parse(flashgate::sink::event_body(event)).as_object().contains("item_id"));
  event.item_id = "phone";
  const auto body = boost::json::parse(flashgate::sink::event_body(event)).as_object();
  EXPECT_EQ(body.at("item_id").as_string(), "phone");
  EXPECT_EQ(body.size(), 10u);
}

TEST(SinkProtocol, EventIdIsOrderDotVersion) {
  EXPECT_EQ(flashgate::sink::event_id(paid_event()), "o-9.4");
}

}  // namespace
