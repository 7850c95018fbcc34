#include "sink/http_order_sink.hpp"

#include <atomic>

#include "sink/sink_protocol.hpp"

namespace flashgate::sink {
namespace {

std::atomic<std::uint64_t> next_serial{1};

struct ThreadConnection {
  std::uint64_t serial = 0;
  HttpPoster::ConnectionSlot connection;
};
thread_local ThreadConnection this_thread_connection;

}  // namespace

HttpOrderSink::HttpOrderSink(HttpSinkSettings settings)
    : settings_(std::move(settings)),
      poster_(settings_.url, settings_.ca_file, settings_.timeout, "order_sink"),
      serial_(next_serial++) {}

SinkAnswer HttpOrderSink::create_order(const OrderRequest& order) {
  const std::string body = order_body(order);
  const auto unix_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const HttpPoster::Headers headers{{"Idempotency-Key", order.order_id},
                                    {"Flashgate-Signature", signature_header(settings_.secret, unix_seconds, body)}};
  auto& slot = this_thread_connection;
  if (slot.serial != serial_) slot = ThreadConnection{serial_, nullptr};
  const auto reply = poster_.post(slot.connection, headers, body);
  if (!reply.error.empty()) return SinkAnswer{SinkAnswer::Kind::unavailable, {}, reply.error};
  return classify_reply(reply.status, reply.body, reply.body_cut);
}

}  // namespace flashgate::sink
