#include "gateway/http/connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "gateway/http/lingering_close.hpp"
#include "gateway/http/response_writer.hpp"
#include "gateway/http/socket_errors.hpp"

namespace flashgate::gateway::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr std::size_t read_chunk = 2048;
}

// The handlers' handle on one request. Whatever thread calls it, the call
// is carried to the connection's thread, and everything here is touched
// there only: first the request/response connection answers, and once an
// event stream starts, the stream's session does.
class ConnectionExchange final : public Exchange, public std::enable_shared_from_this<ConnectionExchange> {
 public:
  using Clock = Connection::Clock;

  ConnectionExchange(std::shared_ptr<Connection> connection, Request&& request, std::uint64_t sequence)
      : executor_(connection->executor_),
        connection_(std::move(connection)),
        request_(std::move(request)),
        sequence_(sequence) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }

  // dispatch: an answer made on the connection's own thread (a poll from
  // memory) is written at once, without a trip through the queue.
  void respond(Response response) override {
    asio::dispatch(executor_, [self = shared_from_this(), r = std::move(response)] {
      if (self->connection_) self->connection_->write_response(*self, r);
    });
  }
  void start_stream(Response head) override {
    asio::post(executor_, [self = shared_from_this(), h = std::move(head)]() mutable {
      if (!self->connection_) return;
      self->stream_ = self->connection_->hand_over_stream(*self, h, std::exchange(self->early_chunks_, {}),
                                                         self->ended_early_);
      self->connection_.reset();
    });
  }
  // A chunk may be written from another thread (a change delivered by the
  // store) before the head is queued: it is held until the head is on its
  // way, so the wire never carries a chunk before the head.
  void stream_write(std::string chunk) override {
    asio::post(executor_, [self = shared_from_this(), c = std::move(chunk)]() mutable {
      if (self->stream_) return self->stream_->write(std::move(c));
      if (self->connection_) self->early_chunks_ += c;
    });
  }
  void stream_end() override {
    asio::post(executor_, [self = shared_from_this()] {
      if (self->stream_) return self->stream_->end();
      self->ended_early_ = true;
    });
  }
  void on_abort(std::function<void()> callback) override {
    asio::post(executor_, [self = shared_from_this(), cb = std::move(callback)]() mutable {
      if (self->stream_) return self->stream_->on_abort(std::move(cb));
      if (self->connection_) return self->connection_->on_abort(self->sequence_, std::move(cb));
      cb();  // a stream whose client had gone before its head
    });
  }
  // Routes are the router's patterns or literals: they outlive every exchange.
  void set_route(std::string_view route) override { route_ = route; }
  std::string_view route() const { return route_; }
  Clock::time_point started() const { return started_; }

 private:
  Connection::Executor executor_;
  std::shared_ptr<Connection> connection_;  // until a stream starts
  std::shared_ptr<EventStreamSession> stream_;
  Request request_;
  std::uint64_t sequence_;  // which of its connection's requests
  std::string_view route_ = "unknown";
  Clock::time_point started_ = Clock::now();
  std::string early_chunks_;  // stream chunks written before the head
  bool ended_early_ = false;  // the stream ended before the head
};

Connection::Connection(tcp::socket socket, Executor executor, ConnectionSlot slot, const Shared& shared,
                       DeadlineSweeper& sweeper, ThreadDrain& drain)
    : socket_(std::move(socket)),
      executor_(executor),
      slot_(std::move(slot)),
      shared_(shared),
      sweeper_(sweeper),
      drain_(drain) {}

void Connection::run() {
  asio::dispatch(executor_, [self = shared_from_this()] {
    if (self->drain_.stopping) return self->close();  // accepted just before the stop
    error_code ec;
    self->socket_.non_blocking(true, ec);  // answers are written at once where the socket takes them
    self->sweeper_.watch(self);
    self->start_reading();
  });
}

bool Connection::stop_reading() {
  if (closed_) return false;
  if (awaiting_answer_ || sending_) return draining_ = true;
  close();
  return false;
}

bool Connection::expire_if_due(Clock::time_point now) {
  if (!closed_ && now >= deadline_) close();
  return closed_;
}

// Limits and a deadline on a fresh parser before every request. Between
// requests the idle timeout applies, but only until the next request's
// first byte: from then on it has the request timeout, like the first
// one, so a slow client gains nothing by reusing a connection.
void Connection::start_reading() {
  const auto& limits = shared_.limits;
  parser_.emplace(limits);
  request_begun_ = requests_ == 0 || buffer_.size() > 0;
  deadline_ = Clock::now() + (request_begun_ ? limits.request_timeout : limits.idle_timeout);
  if (buffer_.size() == 0) return read_more();
  // Pipelined bytes: parsed from the queue, so a long pipeline does not
  // grow the stack (answers from memory complete inline).
  asio::post(executor_, [self = shared_from_this()] { self->parse_buffered(); });
}

void Connection::read_more() {
  socket_.async_read_some(buffer_.prepare(read_chunk), [self = shared_from_this()](error_code ec, std::size_t n) {
    self->on_bytes(ec, n);
  });
}

void Connection::on_bytes(const error_code& ec, std::size_t n) {
  if (ec) {
    fail(ec, "read");
    return close();
  }
  buffer_.commit(n);
  if (!request_begun_) {
    request_begun_ = true;
    deadline_ = Clock::now() + shared_.limits.request_timeout;
  }
  parse_buffered();
}

void Connection::parse_buffered() {
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

void Connection::on_parse_error(const error_code& ec) {
  const auto data = buffer_.data();
  const std::string_view received(static_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 1024));
  if (auto answer = failure_answer(ec, received)) return reject(*answer);
  fail(ec, "parse");
  close();
}

// Answers a request we could not parse, then closes: the stream is out of sync.
void Connection::reject(const Response& response) {
  head_request_ = false;
  assign_request_id(request_id_, parser_->is_header_done() ? parser_->request_id() : std::string_view());
  shared_.counters.count("malformed", response.status);
  send(response, 11, Then::linger);
}

void Connection::on_request() {
  auto& parser = *parser_;
  keep_alive_ = parser.keep_alive();
  version_ = parser.version();
  head_request_ = parser.head();
  Request& request = parser.request();
  request.client_address = slot_.address();
  assign_request_id(request_id_, request.header("x-request-id"));
  auto exchange = std::make_shared<ConnectionExchange>(shared_from_this(), std::move(request), ++requests_);
  parser_.reset();
  deadline_ = Clock::time_point::max();  // the handler decides how long the answer takes
  awaiting_answer_ = true;
  shared_.router.dispatch(exchange);  // may answer, and start the next read, before it returns
}

void Connection::write_response(const ConnectionExchange& exchange, const Response& r) {
  if (closed_) return;
  awaiting_answer_ = false;
  abort_callbacks_.clear();
  shared_.counters.count(exchange.route(), r.status, exchange.started());
  // Stopping: the answer says Connection: close.
  send(r, version_, keep_alive_ && !drain_.stopping ? Then::read_next : Then::close);
}

void Connection::send(const Response& r, unsigned version, Then then) {
  out_.clear();
  append_response(out_, r, version, then == Then::read_next, head_request_, request_id_);
  deadline_ = Clock::now() + shared_.limits.request_timeout;
  // Most answers fit the socket's buffer: written now, no completion to schedule.
  error_code ec;
  std::size_t written = socket_.write_some(asio::buffer(out_), ec);
  if (would_block(ec)) written = 0;
  else if (ec) {
    fail(ec, "write");
    return close();
  }
  if (written == out_.size()) return after_answer(then);
  sending_ = true;
  asio::async_write(socket_, asio::buffer(out_.data() + written, out_.size() - written),
                    [self = shared_from_this(), then](error_code ec, std::size_t) {
                      if (ec) {
                        fail(ec, "write");
                        return self->close();
                      }
                      self->after_answer(then);
                    });
}

void Connection::after_answer(Then then) {
  sending_ = false;
  if (then == Then::read_next && !drain_.stopping) return start_reading();
  if (then == Then::linger && !closed_) {
    closed_ = true;  // the socket is the lingering close's now
    std::make_shared<LingeringClose>(std::move(socket_), std::move(slot_))->start();
  } else {
    close();
  }
  drained();
}

// Once per connection that owed an answer at the stop: written, or gone.
void Connection::drained() {
  if (std::exchange(draining_, false)) drain_.answered();
}

// Only answers that wait (long polls, streams) ask to hear of a hang-up, so
// only they pay for watching the socket. A callback belongs to its
// exchange: it is dropped with the answer, and one that arrives after the
// answer (the registration is posted; the answer may be written first) is
// dropped at once. A keep-alive poller otherwise left one per request
// until its connection closed.
void Connection::on_abort(std::uint64_t sequence, std::function<void()> callback) {
  if (sequence != requests_ || !awaiting_answer_) return;  // answered already
  if (closed_) return callback();
  abort_callbacks_.push_back(std::move(callback));
  if (!watching_) {
    watching_ = true;
    watch_for_hangup();
  }
}

// While a handler takes its time (long poll), a client that hangs up is
// noticed at once, so its waiter is freed.
void Connection::watch_for_hangup() {
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

// A stream's answer is its head: counted and drained as any answer, and
// the socket, its slot and the hang-up callbacks go to the stream's session.
std::shared_ptr<EventStreamSession> Connection::hand_over_stream(const ConnectionExchange& exchange,
                                                                 const Response& head, std::string early_chunks,
                                                                 bool ended) {
  shared_.counters.count(exchange.route(), head.status, exchange.started());
  drained();
  if (closed_ || !awaiting_answer_) return nullptr;  // the client is gone: nothing is written
  awaiting_answer_ = false;
  if (watching_) {
    error_code ec;
    socket_.cancel(ec);  // the watch's completion finds the connection closed and leaves the socket alone
  }
  closed_ = true;  // the socket is the stream's now
  auto stream = std::make_shared<EventStreamSession>(std::move(socket_), std::move(slot_));
  stream->start(stream_head(head, request_id_) + early_chunks, ended, std::move(abort_callbacks_));
  return stream;
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
  auto callbacks = std::move(abort_callbacks_);
  for (auto& cb : callbacks) cb();
  drained();
}

}  // namespace flashgate::gateway::http
