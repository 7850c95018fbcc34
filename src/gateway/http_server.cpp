#include "gateway/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <semaphore>
#include <thread>
#include <utility>
#include <unordered_map>

#include "gateway/http/deadline_sweeper.hpp"
#include "gateway/http/request_counters.hpp"
#include "gateway/http/request_parser.hpp"
#include "gateway/http/response_writer.hpp"
#include "platform/thread_name.hpp"

namespace flashgate::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// Completion errors that only mean "the peer or we closed": not worth a log line.
bool quiet(const error_code& ec) {
  return ec == asio::error::operation_aborted || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

void fail(const error_code& ec, const char* what) {
  if (!quiet(ec)) spdlog::debug("http {}: {}", what, ec.message());
}

bool would_block(const error_code& ec) { return ec == asio::error::would_block || ec == asio::error::try_again; }

constexpr std::size_t read_chunk = 2048;

// Lingering close, as nginx's (lingering_time 30 s, lingering_timeout 5 s):
// after answering a request we did not read to its end (413, 431, a
// malformed request), closing at once resets the connection under the
// unread bytes, and a client that sends its whole body before it reads
// (Python's http.client, requests) gets the reset instead of the answer.
// So we shut down our sending side and read and discard until the client
// closes, for at most linger_total, linger_silence without a byte, or
// linger_bytes, whichever comes first: a connection slot is held that long.
constexpr std::chrono::seconds linger_total{5};
constexpr std::chrono::seconds linger_silence{2};
constexpr std::size_t linger_bytes = 64 * 1024 * 1024;
constexpr std::size_t linger_chunk = 16 * 1024;

// Open connections, per process and per client address; a trusted proxy's
// are counted per process only.
class ConnectionSlots {
 public:
  explicit ConnectionSlots(const ServerLimits& limits) : limits_(limits) {}
  bool acquire(const std::string& address) {
    const bool proxy = std::find(limits_.trusted_proxies.begin(), limits_.trusted_proxies.end(), address) !=
                       limits_.trusted_proxies.end();
    std::lock_guard lock(mutex_);
    if (open_ >= limits_.connections) return false;
    if (proxy) {
      ++open_;
      return true;
    }
    auto& count = per_client_[address];
    if (count >= limits_.connections_per_client) return false;
    ++count;
    ++open_;
    return true;
  }
  void release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(address);  // none for a trusted proxy
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

// One I/O thread's part of the server's stop: how many of its connections
// still owe an answer. Touched by that thread alone (no counter shared
// across threads, and nothing at all before the stop); the thread's last
// answer tells the stop, through the semaphore every thread shares.
struct ThreadDrain {
  explicit ThreadDrain(std::counting_semaphore<>& drained) : drained(drained) {}
  void answered() {
    if (--owed == 0 && !walking) drained.release();
  }
  std::counting_semaphore<>& drained;
  bool stopping = false;  // no request is read on this thread any more
  bool walking = false;   // its connections are being told: owed is not final yet
  std::size_t owed = 0;
};

// What every connection of the server shares.
struct Shared {
  const Router& router;
  http::RequestCounters& counters;
  const ServerLimits& limits;
  ConnectionSlots& slots;
};

class Session;

class SessionExchange final : public Exchange, public std::enable_shared_from_this<SessionExchange> {
 public:
  SessionExchange(std::shared_ptr<Session> session, Request&& request, std::uint64_t sequence)
      : session_(std::move(session)), request_(std::move(request)), sequence_(sequence) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override;
  void start_stream(Response head) override;
  void stream_write(std::string chunk) override;
  void stream_end() override;
  void on_abort(std::function<void()> callback) override;
  // Routes are the router's patterns or literals: they outlive every exchange.
  void set_route(std::string_view route) override { route_ = route; }
  std::string_view route() const { return route_; }
  Clock::time_point started() const { return started_; }
  std::uint64_t sequence() const { return sequence_; }

 private:
  std::shared_ptr<Session> session_;
  Request request_;
  std::uint64_t sequence_;  // which of its connection's requests
  std::string_view route_ = "unknown";
  Clock::time_point started_ = Clock::now();
};

// One connection: reads requests with Beast's parser from its own buffer,
// writes answers it formats itself, and keeps one deadline that the
// thread's sweeper enforces (no timer operation per request).
class Session : public std::enable_shared_from_this<Session>, public http::Expiring {
 public:
  Session(tcp::socket socket, std::string address, const Shared& shared, http::DeadlineSweeper& sweeper,
          ThreadDrain& drain)
      : socket_(std::move(socket)),
        address_(std::move(address)),
        shared_(shared),
        limits_(shared.limits),
        sweeper_(sweeper),
        drain_(drain) {}
  ~Session() override { shared_.slots.release(address_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (self->drain_.stopping) return self->close();  // accepted just before the stop
      error_code ec;
      self->socket_.non_blocking(true, ec);  // answers are written at once where the socket takes them
      self->sweeper_.watch(self);
      self->start_reading();
    });
  }

  // The server stops, on the connection's own thread: no further request is
  // read. A request a handler has is still answered, and then the
  // connection closes: true, it owes an answer (the thread's drain hears
  // when it is written or the connection is gone). An event stream goes on
  // until it is ended or the server's threads stop; a connection lingering
  // after a refusal lingers on; any other is closed now.
  bool stop_reading() {
    if (closed_ || stream_started_) return false;
    stopping_ = true;
    if (awaiting_answer_ || sending_) return draining_ = true;
    if (!linger_) close();
    return false;
  }

  bool expire_if_due(Clock::time_point now) override {
    if (!closed_ && now >= deadline_) close();
    return closed_;
  }

  // --- called through SessionExchange, from any thread ---
  void respond(std::shared_ptr<SessionExchange> exchange, Response response) {
    // dispatch: an answer made on the connection's own thread (a poll from
    // memory) is written at once, without a trip through the queue. The
    // exchange rides along so that the session outlives the handler's answer.
    asio::dispatch(socket_.get_executor(), [self = shared_from_this(), exchange, r = std::move(response)]() mutable {
      self->write_response(*exchange, r);
    });
  }
  void start_stream(std::shared_ptr<SessionExchange> exchange, Response head) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), exchange, h = std::move(head)]() mutable {
      self->shared_.counters.count(exchange->route(), h.status, exchange->started());
      self->drained();  // a stream's answer is its head: the stream itself ends as it would
      self->deadline_ = Clock::time_point::max();
      self->release_request_memory();
      self->stream_started_ = true;
      self->queue_chunk(http::stream_head(h, self->request_id_));
      if (!self->early_chunks_.empty()) self->queue_chunk(std::exchange(self->early_chunks_, {}));
    });
  }
  // A chunk may be written from another thread (a change delivered by the
  // store) before the head is queued: it is held until the head is on its
  // way, so the wire never carries a chunk before the head.
  void stream_write(std::string chunk) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), c = std::move(chunk)]() mutable {
      if (!self->stream_started_ && !self->closed_) return void(self->early_chunks_ += c);
      self->queue_chunk(std::move(c));
    });
  }
  void stream_end() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->stream_closing_ = true;
      // Before the head: the head's write closes when it completes.
      if (self->stream_started_ && !self->writing_) self->close();
    });
  }
  // Only answers that wait (long polls, streams) ask to hear of a hang-up, so
  // only they pay for watching the socket. A callback belongs to its
  // exchange: it is dropped with the answer, and one that arrives after the
  // answer (the registration is posted; the answer may be written first) is
  // dropped at once. A keep-alive poller otherwise left one per request
  // until its connection closed.
  void on_abort(std::uint64_t sequence, std::function<void()> callback) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), sequence, cb = std::move(callback)]() mutable {
      if (sequence != self->requests_ || !self->awaiting_answer_) return;  // answered already
      if (self->closed_) return cb();
      self->abort_callbacks_.push_back(std::move(cb));
      if (self->awaiting_answer_ && !self->watching_) {
        self->watching_ = true;
        self->watch_for_hangup();
      }
    });
  }

 private:
  // Limits and a deadline on a fresh parser before every request. Between
  // requests the idle timeout applies, but only until the next request's
  // first byte: from then on it has the request timeout, like the first
  // one, so a slow client gains nothing by reusing a connection.
  void start_reading() {
    parser_.emplace(limits_);
    request_begun_ = first_request_ || buffer_.size() > 0;
    deadline_ = Clock::now() + (request_begun_ ? limits_.request_timeout : limits_.idle_timeout);
    if (buffer_.size() == 0) return read_more();
    // Pipelined bytes: parsed from the queue, so a long pipeline does not
    // grow the stack (answers from memory complete inline).
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->parse_buffered(); });
  }

  void read_more() {
    socket_.async_read_some(buffer_.prepare(read_chunk), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->on_bytes(ec, n);
    });
  }

  void on_bytes(const error_code& ec, std::size_t n) {
    if (ec) {
      fail(ec, "read");
      return close();
    }
    buffer_.commit(n);
    if (!request_begun_) {
      request_begun_ = true;
      deadline_ = Clock::now() + limits_.request_timeout;
    }
    parse_buffered();
  }

  void parse_buffered() {
    if (closed_) return;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      error_code ec;
      const std::size_t used = parser_->feed(buffer_.data(), ec);
      buffer_.consume(used);
      if (parser_->refusal()) return reject(*parser_->refusal());
      if (ec == boost::beast::http::error::need_more) break;
      if (ec) return on_parse_error(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_request();
    read_more();
  }

  void on_parse_error(const error_code& ec) {
    const auto data = buffer_.data();
    const std::string_view received(static_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 1024));
    if (auto answer = http::failure_answer(ec, received)) return reject(*answer);
    fail(ec, "parse");
    close();
  }

  // Answers a request we could not parse, then closes: the stream is out of sync.
  void reject(const Response& response) {
    first_request_ = false;
    keep_alive_ = false;
    head_request_ = false;
    http::assign_request_id(request_id_, parser_->is_header_done() ? parser_->request_id() : std::string_view());
    shared_.counters.count("malformed", response.status);
    linger_ = true;
    send(response, 11, false);
  }

  void on_request() {
    first_request_ = false;
    auto& parser = *parser_;
    keep_alive_ = parser.keep_alive();
    version_ = parser.version();
    head_request_ = parser.head();
    Request& request = parser.request();
    request.client_address = address_;
    http::assign_request_id(request_id_, request.header("x-request-id"));
    auto exchange = std::make_shared<SessionExchange>(shared_from_this(), std::move(request), ++requests_);  // moved once
    parser_.reset();
    deadline_ = Clock::time_point::max();  // the handler decides how long the answer takes
    awaiting_answer_ = true;
    shared_.router.dispatch(exchange);  // may answer, and start the next read, before it returns
  }

  void write_response(const SessionExchange& exchange, const Response& r) {
    if (closed_) return;
    awaiting_answer_ = false;
    abort_callbacks_.clear();
    shared_.counters.count(exchange.route(), r.status, exchange.started());
    send(r, version_, keep_alive_ && !stopping_);  // stopping: the answer says Connection: close
  }

  void send(const Response& r, unsigned version, bool keep_alive) {
    out_.clear();
    http::append_response(out_, r, version, keep_alive, head_request_, request_id_);
    deadline_ = Clock::now() + limits_.request_timeout;
    // Most answers fit the socket's buffer: written now, no completion to schedule.
    error_code ec;
    std::size_t written = socket_.write_some(asio::buffer(out_), ec);
    if (would_block(ec)) written = 0;
    else if (ec) {
      fail(ec, "write");
      return close();
    }
    if (written == out_.size()) return after_answer(keep_alive);
    sending_ = true;
    asio::async_write(socket_, asio::buffer(out_.data() + written, out_.size() - written),
                      [self = shared_from_this(), keep_alive](error_code ec, std::size_t) {
                        if (ec) {
                          fail(ec, "write");
                          return self->close();
                        }
                        self->after_answer(keep_alive);
                      });
  }

  void after_answer(bool keep_alive) {
    sending_ = false;
    if (stopping_) {
      linger_ ? linger() : close();
      return drained();
    }
    if (!keep_alive) return linger_ ? linger() : close();
    start_reading();
  }

  // Once per connection that owed an answer at the stop: written, or gone.
  void drained() {
    if (std::exchange(draining_, false)) drain_.answered();
  }

  void linger() {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);  // the client sees the answer end
    if (ec) return close();
    linger_until_ = Clock::now() + linger_total;
    deadline_ = std::min(linger_until_, Clock::now() + linger_silence);  // the sweeper enforces both
    discard();
  }

  void discard() {
    buffer_.consume(buffer_.size());
    socket_.async_read_some(buffer_.prepare(linger_chunk), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->lingered_ += n;
      if (ec || self->closed_ || self->lingered_ >= linger_bytes) return self->close();
      self->deadline_ = std::min(self->linger_until_, Clock::now() + linger_silence);
      self->discard();
    });
  }

  // While a handler takes its time (long poll, event stream), a client that
  // hangs up is noticed at once, so its waiter or stream is freed.
  void watch_for_hangup() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      self->watching_ = false;
      if (ec || !self->awaiting_answer_ || self->closed_) return;
      error_code read_ec;
      const auto n = self->socket_.read_some(self->buffer_.prepare(512), read_ec);
      if (would_block(read_ec)) {
        self->watching_ = true;
        return self->watch_for_hangup();
      }
      if (read_ec) return self->close();  // end of stream or reset: the client is gone
      self->buffer_.commit(n);           // pipelined bytes: kept for the next request
    });
  }

  // A stream holds its connection for minutes: what only reading needed goes.
  void release_request_memory() {
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    std::string().swap(out_);
  }

  // Streamed chunks: one buffer on the wire, the next one filling up.
  void queue_chunk(std::string chunk) {
    if (closed_) return;
    if (writing_) {
      pending_ += chunk;
      return;
    }
    out_ = std::move(chunk);
    write_stream();
  }

  void write_stream() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) {
        fail(ec, "stream");
        return self->close();
      }
      std::string().swap(self->out_);
      if (!self->pending_.empty()) {
        self->out_.swap(self->pending_);
        return self->write_stream();
      }
      if (self->stream_closing_) self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
    std::string().swap(pending_);
    auto callbacks = std::move(abort_callbacks_);
    for (auto& cb : callbacks) cb();
    drained();
  }

  tcp::socket socket_;
  std::string address_;
  const Shared& shared_;
  const ServerLimits& limits_;
  http::DeadlineSweeper& sweeper_;
  ThreadDrain& drain_;
  Clock::time_point deadline_ = Clock::time_point::max();
  boost::beast::flat_buffer buffer_;
  std::optional<http::RequestParser> parser_;
  std::string out_;      // the answer, or the stream chunk, being written
  std::string pending_;  // stream chunks queued behind it
  std::string request_id_;
  bool keep_alive_ = false;
  bool awaiting_answer_ = false;
  bool watching_ = false;  // a hang-up watch is armed
  bool head_request_ = false;
  bool first_request_ = true;
  bool request_begun_ = false;  // bytes of the next request have arrived
  unsigned version_ = 11;
  bool writing_ = false;
  bool stream_closing_ = false;
  bool stream_started_ = false;  // its head is queued
  bool closed_ = false;
  bool sending_ = false;    // an answer's write is in progress
  bool stopping_ = false;   // the server stops: no further request is read
  bool draining_ = false;   // owed an answer at the stop, not yet written
  bool linger_ = false;  // close by lingering: the request was not read to its end
  Clock::time_point linger_until_;
  std::size_t lingered_ = 0;  // bytes discarded
  std::string early_chunks_;    // stream chunks written before the head
  std::uint64_t requests_ = 0;  // the sequence of the latest exchange
  std::vector<std::function<void()>> abort_callbacks_;
};

void SessionExchange::respond(Response response) { session_->respond(shared_from_this(), std::move(response)); }
void SessionExchange::start_stream(Response head) { session_->start_stream(shared_from_this(), std::move(head)); }
void SessionExchange::stream_write(std::string chunk) { session_->stream_write(std::move(chunk)); }
void SessionExchange::stream_end() { session_->stream_end(); }
void SessionExchange::on_abort(std::function<void()> callback) { session_->on_abort(sequence_, std::move(callback)); }

}  // namespace

struct HttpServer::Impl {
  Impl(const Router& r, metrics::Registry& m, ServerLimits l)
      : limits(l),
        counters(m),
        slots(limits),
        shared{r, counters, limits, slots},
        refused(m.counter("flashgate_connections_refused_total", "Connections closed at once: over a bound")),
        accept_failures(m.counter("flashgate_accept_failures_total",
                                  "Accepts that failed; out of descriptors or memory, accepting pauses a moment")) {
    m.gauge("flashgate_connections_open", "Open HTTP connections", [this] { return static_cast<double>(slots.open()); });
  }

  // One completion takes every connection that is waiting (the acceptor is
  // non-blocking), as nginx's multi_accept does: a crowd that connects at
  // once was otherwise taken one connection per trip through the first I/O
  // thread's queue, behind the requests of the connections already in, and
  // the last ones' first requests waited most of a second.
  void accept() {
    if (!acceptor->is_open()) return;  // stopped
    const std::size_t index = next_context++ % contexts.size();
    acceptor->async_accept(*contexts[index], [this, index](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return accept_failed(ec);
      shortage_logged = false;
      admit(std::move(socket), index);
      for (;;) {
        const std::size_t next = next_context++ % contexts.size();
        tcp::socket more = acceptor->accept(*contexts[next], ec);
        if (ec) {
          --next_context;  // not used: the next connection takes its turn
          if (!would_block(ec)) return accept_failed(ec);
          break;
        }
        admit(std::move(more), next);
      }
      accept();
    });
  }

  // Out of descriptors or memory, accept fails at once for as long as the
  // shortage lasts: accepting again straight away spun the first I/O thread
  // at full speed. The connections wait in the backlog instead, and accepting
  // resumes a moment later (a connection closed meanwhile makes room).
  void accept_failed(const error_code& ec) {
    accept_failures.inc();
    fail(ec, "accept");
    const bool shortage = ec == asio::error::no_descriptors ||
                          ec == boost::system::errc::too_many_files_open_in_system ||
                          ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
    if (!shortage) return accept();
    if (!shortage_logged) spdlog::warn("http: cannot accept connections ({}); retrying every 100 ms", ec.message());
    shortage_logged = true;
    accept_pause->expires_after(std::chrono::milliseconds(100));
    accept_pause->async_wait([this](error_code wait_ec) {
      if (!wait_ec) accept();
    });
  }

  void admit(tcp::socket socket, std::size_t index) {
    error_code ec;
    auto peer = socket.remote_endpoint(ec);
    std::string address = ec ? std::string() : peer.address().to_string();
    if (!slots.acquire(address)) {
      refused.inc();
      socket.close(ec);  // over the bound: cheapest answer is none
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(std::move(socket), std::move(address), shared, *sweepers[index], *drains[index])->run();
  }

  // On I/O thread `index`: its connections stop reading; the thread tells
  // `drained` once the answers they owe are written (at once if none is).
  void stop_reading(std::size_t index) {
    auto& drain = *drains[index];
    drain.stopping = true;
    drain.walking = true;  // an answer written inline while walking must not tell too early
    sweepers[index]->for_each([&drain](const std::shared_ptr<http::Expiring>& connection) {
      if (std::static_pointer_cast<Session>(connection)->stop_reading()) ++drain.owed;
    });
    drain.walking = false;
    if (drain.owed == 0) drained.release();
  }

  ServerLimits limits;
  http::RequestCounters counters;
  ConnectionSlots slots;
  Shared shared;
  metrics::Counter& refused;
  metrics::Counter& accept_failures;
  bool shortage_logged = false;  // one warning per shortage, not one per retry
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<http::DeadlineSweeper>> sweepers;  // one per context, destroyed before them
  std::counting_semaphore<> drained{0};                           // one release per thread at the stop
  std::vector<std::unique_ptr<ThreadDrain>> drains;               // one per context
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_pause;  // on the acceptor's context
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
    impl_->sweepers.push_back(std::make_unique<http::DeadlineSweeper>(*impl_->contexts.back()));
    impl_->drains.push_back(std::make_unique<ThreadDrain>(impl_->drained));
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("not an IP address: " + host);
  const tcp::endpoint endpoint(address, port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts.front());
  impl_->accept_pause = std::make_unique<asio::steady_timer>(*impl_->contexts.front());
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor.non_blocking(true, ec);  // accept() drains the backlog and stops at would_block
  if (ec) throw std::runtime_error(ec.message());
  impl_->accept();
  for (auto& sweeper : impl_->sweepers) sweeper->start();
  for (std::size_t i = 0; i < impl_->contexts.size(); ++i)
    impl_->threads.emplace_back([ctx = impl_->contexts[i].get(), i] {
      platform::name_this_thread("fg-http-" + std::to_string(i));
      ctx->run();
    });
}

std::uint16_t HttpServer::port() const { return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0; }

void HttpServer::stop() {
  if (impl_->threads.empty()) return;
  asio::post(*impl_->contexts.front(), [this] {
    error_code ec;
    impl_->acceptor->close(ec);
    impl_->accept_pause->cancel();
  });
  // Every request a handler has is answered before the threads stop: an
  // intake whose Redis reply is still on its way, a key fetch, an admin call
  // (an answer already handed over is queued ahead of the walk, and written
  // first). Bounded: a handler that never answers does not hold the process.
  const std::size_t threads = impl_->contexts.size();
  for (std::size_t i = 0; i < threads; ++i) asio::post(*impl_->contexts[i], [this, i] { impl_->stop_reading(i); });
  const auto deadline = Clock::now() + impl_->limits.drain_timeout;
  std::size_t drained = 0;
  while (drained < threads && impl_->drained.try_acquire_until(deadline)) ++drained;
  if (drained < threads)
    spdlog::warn("http: answers still owed after {} ms; their connections are closed unanswered",
                 impl_->limits.drain_timeout.count());
  impl_->guards.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

}  // namespace flashgate::gateway
