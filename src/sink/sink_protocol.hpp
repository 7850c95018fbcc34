#pragma once
// What goes over the wire to a sink and what its replies mean, as pure
// functions: the socket code stays thin and these are tested without one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "database/event_outbox.hpp"
#include "sink/order_sink.hpp"

namespace flashgate::sink {

// Replies larger than this are not read to the end.
inline constexpr std::size_t max_reply_body = 64 * 1024;
inline constexpr std::size_t max_reason_bytes = 200;

// {"order_id","sale_id","user_id","item","accepted_at"}
std::string order_body(const OrderRequest& request);

// {"order_id","sale_id","user_id","status","version","reason","external_id","at"},
// `at` in milliseconds since the epoch.
std::string event_body(const database::OutboxEvent& event);
// Flashgate-Event-Id: "<order_id>.<version>", the same for every delivery of
// one event, so the shop can drop a repeat.
std::string event_id(const database::OutboxEvent& event);

// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">": the timestamp is
// signed with the body, so a receiver can refuse a replayed call.
std::string signature_header(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

// What a reply means: 2xx created, 4xx refused, anything else unavailable.
// body_cut: the body was larger than max_reply_body and is not complete.
SinkAnswer classify_reply(int status, std::string_view body, bool body_cut);

// At most max_reason_bytes of printable ASCII; anything else becomes '?'.
std::string sanitize_reason(std::string_view text);

}  // namespace flashgate::sink
