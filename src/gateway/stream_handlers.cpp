// GET /api/orders/status (poll and long poll), GET /api/orders/events (SSE)
#include <charconv>

#include "gateway/handlers.hpp"
#include "gateway/render.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

constexpr std::uint64_t max_wait_seconds = 30;

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A number of seconds: all digits, however many (a huge wait is clamped, not refused).
std::optional<std::uint64_t> parse_seconds(std::string_view text) {
  if (text.empty() || text.size() > 1000) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  return parse_uint(text).value_or(UINT64_MAX);
}

Response too_many_waiting() {
  return retry_response(ErrorCode::too_many_requests, "too many clients are waiting; retry shortly", 1);
}

std::string sse_event(const store::OrderView& view) {
  return "event: status\nid: " + std::to_string(view.order.version) + "\ndata: " + render_status(view) + "\n\n";
}

// Per stream: what the client has already been sent.
struct SseProgress {
  std::uint64_t version = 0;
  std::uint64_t position = 0;
};

// One look at the order for a stream: what the client has not been sent yet.
OrderWatch::StreamNext send_progress(Exchange& ex, SseProgress& progress, const std::optional<store::OrderView>& view) {
  using Next = OrderWatch::StreamNext;
  if (!view) {
    ex.stream_write(": keepalive\n\n");
    return Next::more;
  }
  const auto& order = view->order;
  if (order.version > progress.version) {
    progress.version = order.version;
    progress.position = view->position;
    ex.stream_write(sse_event(*view));
  } else if (order.version == progress.version && order.status == domain::OrderStatus::queued &&
             view->position != progress.position) {
    // Extension: the line moved; no id, so Last-Event-ID still names the status.
    progress.position = view->position;
    ex.stream_write("event: position\ndata: " + render_status(*view) + "\n\n");
  }
  if (domain::is_final(order.status) && order.version <= progress.version) {
    ex.stream_end();
    return Next::finished;
  }
  return order.status == domain::OrderStatus::queued ? Next::more_with_position : Next::more;
}

}  // namespace

// Every poll answer goes through here, so the pacer knows what hint was given.
void OrderStatus::answer(const ExchangePtr& ex, const store::OrderView& view) const {
  pacer.answered(view.order.order_id, domain::now_ms(), domain::is_final(view.order.status) ? 0 : view.poll_after_ms);
  ex->respond(json_response(200, render_status(view)));
}

void OrderStatus::answer_current(const ExchangePtr& ex, const domain::TicketClaims& claims) const {
  store.get_order(claims.sale_id, claims.order_id, [this, ex](domain::Result<store::OrderView> view) {
    if (!view) return archived.order_error(tickets, ex, view.error());
    answer(ex, view.value());
  });
}

// Answers as soon as the order's version passes `since`, or at the deadline.
// `paced`: an early plain poll held back by the pacer; past the waiter bound it is answered at once.
void OrderStatus::long_poll(const ExchangePtr& ex, domain::TicketClaims claims, std::chrono::milliseconds wait,
                            std::optional<std::uint64_t> since, bool paced) const {
  if (wait.count() == 0) return answer_current(ex, claims);  // nothing to wait for: a plain poll
  const std::string sale_id = claims.sale_id, order_id = claims.order_id;
  store.get_order(sale_id, order_id, [this, ex, claims = std::move(claims), wait, since, paced](auto current) {
    if (!current) return archived.order_error(tickets, ex, current.error());
    const std::uint64_t after = since.value_or(current.value().order.version);
    if (current.value().order.version > after || wait.count() == 0) return answer(ex, current.value());
    const auto deadline = std::chrono::steady_clock::now() + wait;
    const auto waiter =
        watch.wait(claims.order_id, after, deadline, [this, ex, claims](std::optional<store::OrderView> view) {
          if (view) return answer(ex, *view);
          answer_current(ex, claims);
        });
    if (waiter == 0) return paced ? answer(ex, current.value()) : ex->respond(too_many_waiting());
    ex->on_abort([this, order_id = claims.order_id, waiter] { watch.cancel(order_id, waiter); });
    // A change between the first look and the registration must not be missed.
    store.get_order(claims.sale_id, claims.order_id, [this, after](auto again) {
      if (again && again.value().order.version > after) watch.changed(again.value());
    });
  });
}

void OrderStatus::operator()(const ExchangePtr& ex) const {
  const QueryParams query(ex->request().query);
  auto claims = ticket_or_reply(tickets, ex, query);
  if (!claims) return;
  if (!rate.pass_or_reply(ex)) return;
  std::string decoded_wait, decoded_since;
  const auto wait = query.get("wait", decoded_wait);
  if (!wait) {
    // Polling before the last hint said: the answer waits for news, a little.
    const auto hold = pacer.hold_ms(claims->order_id, domain::now_ms());
    if (hold > 0) return long_poll(ex, std::move(*claims), std::chrono::milliseconds(hold), std::nullopt, true);
    return answer_current(ex, *claims);
  }
  auto wait_s = parse_seconds(*wait);
  if (!wait_s) return ex->respond(error_response(ErrorCode::invalid_request, "wait must be a whole number of seconds"));
  std::optional<std::uint64_t> since;
  if (auto text = query.get("since", decoded_since)) {
    since = parse_uint(*text);
    if (!since) return ex->respond(error_response(ErrorCode::invalid_request, "since must be a version number"));
  }
  long_poll(ex, std::move(*claims), std::chrono::seconds(std::min(*wait_s, max_wait_seconds)), since, false);
}

void OrderEvents::operator()(const ExchangePtr& ex) const {
  auto claims = ticket_or_reply(tickets, ex, QueryParams(ex->request().query));
  if (!claims) return;
  if (!rate.pass_or_reply(ex)) return;
  std::uint64_t last_seen = 0;
  if (auto header = ex->request().header("last-event-id"); !header.empty()) {
    auto parsed = parse_uint(header);
    if (!parsed) return ex->respond(error_response(ErrorCode::invalid_request, "Last-Event-ID must be a version"));
    last_seen = *parsed;
  }
  store.get_order(claims->sale_id, claims->order_id, [this, ex, claims = *claims, last_seen](auto current) {
    if (!current) return archived.order_error(tickets, ex, current.error());
    auto progress = std::make_shared<SseProgress>(SseProgress{last_seen, 0});
    auto stream = watch.stream(claims.sale_id, claims.order_id,
                               [ex, progress](const std::optional<store::OrderView>& view) {
                                 return send_progress(*ex, *progress, view);
                               });
    if (!stream) return ex->respond(too_many_waiting());
    Response head;
    head.content_type = "text/event-stream";
    head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    ex->start_stream(std::move(head));
    ex->on_abort([stream] { stream->close(); });
    stream->deliver(current.value());
  });
}

}  // namespace flashgate::gateway
