#include "sink/sink_protocol.hpp"

#include <boost/json.hpp>

#include "domain/order.hpp"
#include "domain/secrets.hpp"

namespace flashgate::sink {

namespace json = boost::json;

std::string order_body(const OrderRequest& request) {
  json::object body;
  body["order_id"] = request.order_id;
  body["sale_id"] = request.sale_id;
  body["user_id"] = request.user_id;
  body["item"] = request.item;
  body["accepted_at"] = domain::format_rfc3339(request.accepted_at);
  body["quantity"] = request.quantity;
  // Only for an order of a sale of several items: the body of a single-item sale's order is unchanged.
  if (!request.item_id.empty()) body["item_id"] = request.item_id;
  return json::serialize(body);
}

std::string event_body(const database::OutboxEvent& event) {
  json::object body;
  body["order_id"] = event.order_id;
  body["sale_id"] = event.sale_id;
  body["user_id"] = event.user_id;
  body["status"] = event.status;
  body["version"] = event.version;
  body["reason"] = event.reason;
  body["external_id"] = event.external_id;
  body["at"] = event.at;
  body["quantity"] = event.quantity;
  if (!event.item_id.empty()) body["item_id"] = event.item_id;
  return json::serialize(body);
}

std::string event_id(const database::OutboxEvent& event) {
  return event.order_id + "." + std::to_string(event.version);
}

std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  const std::string t = std::to_string(unix_seconds);
  std::string signed_text;
  signed_text.reserve(t.size() + 1 + body.size());
  signed_text.append(t).append(".").append(body);
  return "t=" + t + ",v1=" + domain::hmac_sha256_hex(secret, signed_text);
}

std::string sanitize_reason(std::string_view text) {
  std::string out(text.substr(0, max_reason_bytes));
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

namespace {

// The reply as a JSON object, if it is one.
const json::object* as_object(const json::value& value) { return value.is_object() ? &value.as_object() : nullptr; }

std::string string_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

SinkAnswer classify_reply(int status, std::string_view body, bool body_cut) {
  SinkAnswer answer;
  json::value parsed;
  const json::object* object = nullptr;
  if (!body_cut) {
    boost::system::error_code ec;
    parsed = json::parse(body, ec);
    if (!ec) object = as_object(parsed);
  }
  if (status >= 200 && status < 300) {
    answer.kind = SinkAnswer::Kind::created;
    if (object) {
      // Not mended like a reason: a changed id would name another order, or none.
      auto id = string_field(*object, "external_id");
      if (domain::is_valid_external_id(id)) answer.external_id = std::move(id);
      else answer.external_id_refused = object->contains("external_id");
    }
    return answer;
  }
  if (status >= 400 && status < 500) {
    answer.kind = SinkAnswer::Kind::refused;
    std::string words;
    if (object) {
      words = string_field(*object, "message");
      if (words.empty()) words = string_field(*object, "error");
    }
    answer.reason = words.empty() ? "refused by the order service (HTTP " + std::to_string(status) + ")"
                                  : sanitize_reason(words);
    return answer;
  }
  answer.kind = SinkAnswer::Kind::unavailable;
  answer.reason = "HTTP " + std::to_string(status);
  return answer;
}

}  // namespace flashgate::sink
