#include "gateway/http_server.hpp"
#include "gateway/serve_bytes.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <ctime>
#include <deque>
#include <future>
#include <sstream>
#include <unordered_map>
#include <thread>

namespace flashgate::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Completion errors that only mean "the peer or we closed": not worth a log line.
bool quiet(const beast::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == beast::error::timeout || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == http::error::end_of_stream || ec == asio::error::broken_pipe;
}

void fail(const beast::error_code& ec, const char* what) {
  if (!quiet(ec)) spdlog::debug("http {}: {}", what, ec.message());
}

// A client's X-Request-Id is kept if it is short and printable; otherwise one is made.
std::string request_id_for(std::string_view given) {
  const bool usable = !given.empty() && given.size() <= 128 &&
                      std::all_of(given.begin(), given.end(), [](char c) { return c > 32 && c < 127; });
  if (usable) return std::string(given);
  static std::atomic<std::uint64_t> next{0};
  static const std::uint64_t boot = static_cast<std::uint64_t>(::time(nullptr));
  char id[40];
  std::snprintf(id, sizeof id, "%llx-%llx", static_cast<unsigned long long>(boot),
                static_cast<unsigned long long>(next.fetch_add(1)));
  return id;
}

Response with_status(Response r, int status) {
  r.status = status;
  return r;
}

// What a connection answers for a request it could not parse; nullopt: close quietly.
std::optional<Response> parse_failure(const beast::error_code& ec) {
  using domain::ErrorCode;
  if (ec == http::error::body_limit) return error_response(ErrorCode::payload_too_large, "the request body is too large");
  if (ec == http::error::header_limit)
    return with_status(error_response(ErrorCode::invalid_request, "the request headers are too large"), 431);
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message)
    return error_response(ErrorCode::invalid_request, "malformed HTTP request");
  return std::nullopt;
}

// Beast reports any malformed version as bad_version; only a well-formed
// request line naming another version is 505, the rest is a bad request.
bool names_another_version(std::string_view received) {
  const auto end = received.find("\r\n");
  if (end == std::string_view::npos) return false;
  const auto line = received.substr(0, end);
  const auto first = line.find(' ');
  const auto last = line.rfind(' ');
  if (first == std::string_view::npos || first == last || first == 0) return false;
  for (char c : line.substr(0, first))
    if (c < 'A' || c > 'Z') return false;
  for (char c : line.substr(first + 1, last - first - 1))
    if (c <= ' ' || c >= 127) return false;
  const auto version = line.substr(last + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5])) &&
         version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]));
}

std::optional<Response> failure_answer(const beast::error_code& ec, std::string_view received) {
  if (ec == http::error::bad_version && names_another_version(received))
    return with_status(error_response(domain::ErrorCode::invalid_request, "only HTTP/1.0 and HTTP/1.1 are served"),
                       505);
  return parse_failure(ec);
}

// A body framed by anything but chunked (alone) or Content-Length is refused:
// guessing the framing is how requests are smuggled (RFC 9112 6.3).
std::optional<Response> coding_refusal(const http::request<http::string_body>& msg) {
  const auto it = msg.find(http::field::transfer_encoding);
  if (it == msg.end()) return std::nullopt;
  std::string value(it->value());
  for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  if (value == "chunked" && msg.count(http::field::transfer_encoding) == 1 && !msg.count(http::field::content_length))
    return std::nullopt;
  return error_response(domain::ErrorCode::invalid_request, "unsupported Transfer-Encoding");
}

std::optional<Response> target_refusal(const http::request_parser<http::string_body>& parser, const ServerLimits& limits) {
  if (parser.get().target().size() > limits.url_bytes)
    return with_status(error_response(domain::ErrorCode::invalid_request, "the request target is too long"), 414);
  return std::nullopt;
}

std::optional<Response> version_refusal(const http::request<http::string_body>& msg) {
  if (msg.version() == 10 || msg.version() == 11) return std::nullopt;
  return with_status(error_response(domain::ErrorCode::invalid_request, "only HTTP/1.0 and HTTP/1.1 are served"), 505);
}

Request to_request(http::request<http::string_body>& msg, const std::string& address) {
  Request request;
  request.method = std::string(msg.method_string());
  const std::string_view target = msg.target();
  const auto q = target.find('?');
  request.path = std::string(target.substr(0, q));  // the router decodes it segment by segment
  if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
  request.body = std::move(msg.body());
  request.headers.reserve(8);
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.client_address = address;
  return request;
}

http::response<http::string_body> to_message(Response r, unsigned version, bool keep_alive, bool head,
                                             const std::string& request_id) {
  http::response<http::string_body> res(static_cast<http::status>(r.status), version);
  res.set(http::field::server, "flashgate");
  if (!request_id.empty()) res.set("X-Request-Id", request_id);
  res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET
  return res;
}

std::string stream_head(const Response& h, const std::string& request_id) {
  std::string raw = "HTTP/1.1 " + std::to_string(h.status) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(h.status))) +
                    "\r\nContent-Type: " + h.content_type + "\r\n";
  for (const auto& [name, value] : h.headers) raw += name + ": " + value + "\r\n";
  raw += "X-Request-Id: " + request_id + "\r\n";
  raw += "Connection: close\r\n\r\n";  // the body runs until we close
  return raw;
}

struct RequestCounters {
  metrics::Registry& registry;
  using Clock = std::chrono::steady_clock;

  // `started`: when the request was read; a streamed answer counts until its head.
  void count(const std::string& route, int status, std::optional<Clock::time_point> started = std::nullopt) {
    auto& slot = slot_for(route, status);
    slot.requests->inc();
    if (started) slot.duration->observe(std::chrono::duration<double>(Clock::now() - *started).count());
  }

 private:
  struct Slot {
    metrics::Counter* requests;
    metrics::Histogram* duration;
  };
  // The registry's lookups build label text and take its lock; each thread
  // keeps the few (route, status) pairs it has seen.
  Slot& slot_for(const std::string& route, int status) {
    thread_local std::unordered_map<std::string, Slot> slots;
    thread_local std::uint64_t owner = 0;
    if (owner != registry.id()) {
      slots.clear();
      owner = registry.id();
    }
    std::string key = route;
    key += '|';
    key += std::to_string(status);
    auto it = slots.find(key);
    if (it != slots.end()) return it->second;
    const std::string route_label = "route=\"" + metrics::label_value(route) + "\"";
    Slot slot{&registry.counter("flashgate_http_requests_total", "HTTP requests by route and status code",
                                route_label + ",code=\"" + std::to_string(status) + "\""),
              &registry.histogram("flashgate_http_request_duration_seconds",
                                  "Time from a request read to its answer, by route", route_label,
                                  {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30})};
    return slots.emplace(std::move(key), slot).first->second;
  }
};

// Open connections, per process and per client address.
class ConnectionSlots {
 public:
  explicit ConnectionSlots(const ServerLimits& limits) : limits_(limits) {}
  bool acquire(const std::string& address) {
    std::lock_guard lock(mutex_);
    if (open_ >= limits_.connections) return false;
    auto& count = per_client_[address];
    if (count >= limits_.connections_per_client) return false;
    ++count;
    ++open_;
    return true;
  }
  void release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(address);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    --open_;
  }
  std::size_t open() const {
    std::lock_guard lock(mutex_);
    return open_;
  }

 private:
  const ServerLimits& limits_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::unordered_map<std::string, std::size_t> per_client_;
};

class Session;

class SessionExchange final : public Exchange, public std::enable_shared_from_this<SessionExchange> {
 public:
  SessionExchange(std::shared_ptr<Session> session, Request request)
      : session_(std::move(session)), request_(std::move(request)) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override;
  void start_stream(Response head) override;
  void stream_write(std::string chunk) override;
  void stream_end() override;
  void on_abort(std::function<void()> callback) override;
  void set_route(std::string_view route) override { route_ = route; }
  const std::string& route() const { return route_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  std::shared_ptr<Session> session_;
  Request request_;
  std::string route_ = "unknown";
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::string address, ConnectionSlots& slots, const Router& router,
          RequestCounters& counters, const ServerLimits& limits)
      : stream_(std::move(socket)),
        address_(std::move(address)),
        slots_(slots),
        router_(router),
        counters_(counters),
        limits_(limits) {}
  ~Session() { slots_.release(address_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  // --- called through SessionExchange, from any thread ---
  void respond(std::shared_ptr<SessionExchange> exchange, Response response) {
    // The exchange rides along so that the session outlives the handler's answer.
    // dispatch: an answer made on the connection's own thread (a poll from
    // memory) is written at once, without a trip through the queue.
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), exchange, r = std::move(response)]() mutable {
      self->write_response(*exchange, std::move(r));
    });
  }
  void start_stream(std::shared_ptr<SessionExchange> exchange, Response head) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), exchange, h = std::move(head)]() mutable {
      self->counters_.count(exchange->route(), h.status, exchange->started());
      self->stream_.expires_never();
      self->queue_chunk(stream_head(h, self->request_id_));
    });
  }
  void stream_write(std::string chunk) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), c = std::move(chunk)]() mutable { self->queue_chunk(std::move(c)); });
  }
  void stream_end() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stream_closing_ = true;
      if (self->chunks_.empty()) self->close();
    });
  }
  // Only answers that wait (long polls, streams) ask to hear of a hang-up, so
  // only they pay for watching the socket.
  void on_abort(std::function<void()> callback) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), cb = std::move(callback)]() mutable {
      if (self->closed_) return cb();
      self->abort_callbacks_.push_back(std::move(cb));
      if (self->awaiting_answer_ && !self->watching_) {
        self->watching_ = true;
        self->watch_for_hangup();
      }
    });
  }

 private:
  void read_request() {
    parser_.emplace();
    parser_->body_limit(limits_.body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    if (first_request_ || buffer_.size() > 0) return read_header();
    // Between requests the idle timeout applies, but only until the next
    // request's first byte: from then on it has the request timeout, like the
    // first one, so a slow client gains nothing by reusing a connection.
    stream_.expires_after(limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) {
        fail(ec, "idle");
        return self->close();
      }
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    stream_.expires_after(limits_.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // While a handler takes its time (long poll, event stream), a client that
  // hangs up is noticed at once, so its waiter or stream is freed.
  void watch_for_hangup() {
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      self->watching_ = false;
      if (ec || !self->awaiting_answer_ || self->closed_) return;
      beast::error_code read_ec;
      const auto n = self->stream_.socket().read_some(self->buffer_.prepare(4096), read_ec);
      if (read_ec) return self->close();  // end of stream or reset: the client is gone
      self->buffer_.commit(n);           // pipelined bytes: kept for the next request
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    first_request_ = false;
    if (auto refusal = target_refusal(*parser_, limits_)) return reject(std::move(*refusal));
    if (auto refusal = coding_refusal(parser_->get())) return reject(std::move(*refusal));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read_error(beast::error_code ec) {
    const auto data = buffer_.data();
    const std::string_view received(static_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 1024));
    if (auto answer = failure_answer(ec, received)) return reject(std::move(*answer));
    fail(ec, "read");
    close();
  }

  // Answers a request we could not parse, then closes: the stream is out of sync.
  void reject(Response response) {
    keep_alive_ = false;
    const bool headers = parser_ && parser_->is_header_done();
    request_id_ = request_id_for(headers ? std::string_view(parser_->get()["X-Request-Id"]) : std::string_view());
    counters_.count("malformed", response.status);
    send(std::move(response), 11, false);
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    if (auto refusal = version_refusal(msg)) return reject(std::move(*refusal));
    head_request_ = msg.method() == http::verb::head;
    version_ = msg.version();
    Request request = to_request(msg, address_);
    request_id_ = request_id_for(request.header("x-request-id"));
    stream_.expires_never();  // the handler decides how long the answer takes
    auto exchange = std::make_shared<SessionExchange>(shared_from_this(), std::move(request));
    awaiting_answer_ = true;
    router_.dispatch(exchange);
  }

  void write_response(SessionExchange& exchange, Response r) {
    awaiting_answer_ = false;
    counters_.count(exchange.route(), r.status, exchange.started());
    send(std::move(r), version_, keep_alive_);
  }

  void send(Response r, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        to_message(std::move(r), version, keep_alive, head_request_, request_id_));
    stream_.expires_after(limits_.request_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) {
        fail(ec, "write");
        return self->close();
      }
      if (!res->keep_alive()) return self->close();
      self->read_request();
    });
  }

  void queue_chunk(std::string chunk) {
    if (closed_) return;
    chunks_.push_back(std::move(chunk));
    if (chunks_.size() == 1) write_chunk();
  }

  void write_chunk() {
    asio::async_write(stream_, asio::buffer(chunks_.front()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) {
                          fail(ec, "stream");
                          return self->close();
                        }
                        self->chunks_.pop_front();
                        if (!self->chunks_.empty()) return self->write_chunk();
                        if (self->stream_closing_) self->close();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    chunks_.clear();
    auto callbacks = std::move(abort_callbacks_);
    for (auto& cb : callbacks) cb();
  }

  beast::tcp_stream stream_;
  std::string address_;
  ConnectionSlots& slots_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Router& router_;
  RequestCounters& counters_;
  const ServerLimits& limits_;
  std::string request_id_;
  bool keep_alive_ = false;
  bool awaiting_answer_ = false;
  bool watching_ = false;  // a hang-up watch is armed
  bool head_request_ = false;
  bool first_request_ = true;
  unsigned version_ = 11;
  bool stream_closing_ = false;
  bool closed_ = false;
  std::deque<std::string> chunks_;
  std::vector<std::function<void()>> abort_callbacks_;
};

void SessionExchange::respond(Response response) { session_->respond(shared_from_this(), std::move(response)); }
void SessionExchange::start_stream(Response head) { session_->start_stream(shared_from_this(), std::move(head)); }
void SessionExchange::stream_write(std::string chunk) { session_->stream_write(std::move(chunk)); }
void SessionExchange::stream_end() { session_->stream_end(); }
void SessionExchange::on_abort(std::function<void()> callback) { session_->on_abort(std::move(callback)); }

// An exchange that writes its answer into a string instead of a socket.
class CapturingExchange final : public Exchange {
 public:
  CapturingExchange(Request request, unsigned version, bool head)
      : request_(std::move(request)), version_(version), head_(head) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override {
    std::ostringstream out;
    out << to_message(std::move(response), version_, false, head_, "test");
    finish(out.str());
  }
  void start_stream(Response head) override {
    std::lock_guard lock(mutex_);
    streamed_ = stream_head(head, "test");
  }
  void stream_write(std::string chunk) override {
    std::lock_guard lock(mutex_);
    streamed_ += chunk;
  }
  void stream_end() override {
    std::string all;
    {
      std::lock_guard lock(mutex_);
      all = streamed_;
    }
    finish(std::move(all));
  }
  void on_abort(std::function<void()>) override {}
  void set_route(std::string_view) override {}

  std::string wait(std::chrono::milliseconds timeout) {
    auto answer = promise_.get_future();
    if (answer.wait_for(timeout) == std::future_status::ready) return answer.get();
    std::lock_guard lock(mutex_);
    return streamed_;  // a stream still open: what was sent so far
  }

 private:
  void finish(std::string bytes) {
    if (!answered_.exchange(true)) promise_.set_value(std::move(bytes));
  }
  Request request_;
  unsigned version_;
  bool head_;
  std::mutex mutex_;
  std::string streamed_;
  std::promise<std::string> promise_;
  std::atomic<bool> answered_{false};
};

std::string rejection(Response r) {
  std::ostringstream out;
  out << to_message(std::move(r), 11, false, false, "test");
  return out.str();
}

}  // namespace

std::string serve_bytes(const Router& router, std::string_view bytes, const ServerLimits& limits,
                        std::chrono::milliseconds wait) {
  return serve_pieces(router, {bytes}, limits, wait);
}

std::string serve_pieces(const Router& router, const std::vector<std::string_view>& pieces,
                         const ServerLimits& limits, std::chrono::milliseconds wait) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(limits.body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
  parser.eager(true);
  std::string received;  // what arrived and the parser has not consumed yet
  bool target_checked = false;
  for (auto piece : pieces) {
    received.append(piece);
    while (!parser.is_done() && !received.empty()) {
      beast::error_code ec;
      const std::size_t used = parser.put(asio::buffer(received), ec);
      received.erase(0, used);
      if (ec == http::error::need_more) break;  // wait for the next piece
      if (ec) {
        auto answer = failure_answer(ec, received);
        return answer ? rejection(std::move(*answer)) : std::string();
      }
      if (parser.is_header_done() && !target_checked) {
        target_checked = true;
        if (auto refusal = target_refusal(parser, limits)) return rejection(std::move(*refusal));
        if (auto refusal = coding_refusal(parser.get())) return rejection(std::move(*refusal));
      }
      if (used == 0) break;
    }
  }
  if (!parser.is_done()) return {};  // a connection would wait, then time out
  auto& msg = parser.get();
  if (auto refusal = version_refusal(msg)) return rejection(std::move(*refusal));
  const unsigned version = msg.version();
  const bool head = msg.method() == http::verb::head;
  auto exchange = std::make_shared<CapturingExchange>(to_request(msg, "127.0.0.1"), version, head);
  router.dispatch(exchange);
  return exchange->wait(wait);
}

struct HttpServer::Impl {
  Impl(const Router& r, metrics::Registry& m, ServerLimits l)
      : router(r),
        counters{m},
        limits(l),
        slots(limits),
        refused(m.counter("flashgate_connections_refused_total", "Connections closed at once: over a bound")) {
    m.gauge("flashgate_connections_open", "Open HTTP connections", [this] { return static_cast<double>(slots.open()); });
  }

  void accept() {
    auto& target = *contexts[next_context++ % contexts.size()];
    acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        fail(ec, "accept");
      } else {
        auto peer = socket.remote_endpoint(ec);
        std::string address = ec ? std::string() : peer.address().to_string();
        if (!slots.acquire(address)) {
          refused.inc();
          socket.close(ec);  // over the bound: cheapest answer is none
        } else {
          socket.set_option(tcp::no_delay(true), ec);
          std::make_shared<Session>(std::move(socket), std::move(address), slots, router, counters, limits)->run();
        }
      }
      accept();
    });
  }

  const Router& router;
  RequestCounters counters;
  ServerLimits limits;
  ConnectionSlots slots;
  metrics::Counter& refused;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::size_t next_context = 0;
};

HttpServer::HttpServer(const Router& router, metrics::Registry& metrics, ServerLimits limits)
    : impl_(std::make_unique<Impl>(router, metrics, limits)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& host, std::uint16_t port, std::size_t threads) {
  threads = std::max<std::size_t>(1, threads);
  for (std::size_t i = 0; i < threads; ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("not an IP address: " + host);
  const tcp::endpoint endpoint(address, port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts.front());
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(ec.message());
  impl_->accept();
  for (auto& context : impl_->contexts)
    impl_->threads.emplace_back([ctx = context.get()] { ctx->run(); });
}

std::uint16_t HttpServer::port() const { return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0; }

void HttpServer::stop() {
  if (impl_->threads.empty()) return;
  asio::post(*impl_->contexts.front(), [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  impl_->guards.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

}  // namespace flashgate::gateway
