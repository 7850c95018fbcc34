#pragma once
// One HTTP/1.1 connection's requests and answers: reads requests with
// Beast's parser from its own buffer, writes answers it formats itself, and
// keeps one deadline that the thread's sweeper enforces (no timer operation
// per request). What outlives the request/response exchange goes elsewhere
// with the socket: an event stream to EventStreamSession, the close after a
// refusal to LingeringClose.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include "gateway/http/connection_slots.hpp"
#include "gateway/http/deadline_sweeper.hpp"
#include "gateway/http/event_stream_session.hpp"
#include "gateway/http/request_counters.hpp"
#include "gateway/http/request_parser.hpp"
#include "gateway/router.hpp"

namespace flashgate::gateway::http {

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
  RequestCounters& counters;
  const ServerLimits& limits;
};

class ConnectionExchange;

class Connection : public std::enable_shared_from_this<Connection>, public Expiring {
 public:
  using Clock = std::chrono::steady_clock;
  using Executor = boost::asio::io_context::executor_type;

  Connection(boost::asio::ip::tcp::socket socket, Executor executor, ConnectionSlot slot, const Shared& shared,
             DeadlineSweeper& sweeper, ThreadDrain& drain);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void run();

  // The server stops, on the connection's own thread: no further request is
  // read. A request a handler has is still answered, and then the
  // connection closes: true, it owes an answer (the thread's drain hears
  // when it is written or the connection is gone). Any other is closed now.
  // (Event streams and lingering closes have left: they go on until they
  // end or the server's threads stop.)
  bool stop_reading();

  bool expire_if_due(Clock::time_point now) override;

 private:
  friend class ConnectionExchange;  // answers, on this connection's thread

  // What the connection does once an answer is written.
  enum class Then { read_next, close, linger };

  void start_reading();
  void read_more();
  void on_bytes(const boost::system::error_code& ec, std::size_t n);
  void parse_buffered();
  void on_parse_error(const boost::system::error_code& ec);
  void reject(const Response& response);
  void on_request();
  void write_response(const ConnectionExchange& exchange, const Response& r);
  void send(const Response& r, unsigned version, Then then);
  void after_answer(Then then);
  void drained();
  void on_abort(std::uint64_t sequence, std::function<void()> callback);
  void watch_for_hangup();
  std::shared_ptr<EventStreamSession> hand_over_stream(const ConnectionExchange& exchange, const Response& head,
                                                       std::string early_chunks, bool ended);
  void close();

  boost::asio::ip::tcp::socket socket_;
  Executor executor_;  // the socket's: its thread's io_context
  ConnectionSlot slot_;
  const Shared& shared_;
  DeadlineSweeper& sweeper_;
  ThreadDrain& drain_;
  Clock::time_point deadline_ = Clock::time_point::max();
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string out_;  // the answer being written
  std::string request_id_;
  std::uint64_t requests_ = 0;  // the sequence of the latest exchange
  std::vector<std::function<void()>> abort_callbacks_;
  // What the latest request asked of its answer.
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  // Where the connection is.
  bool request_begun_ = false;    // bytes of the next request have arrived
  bool awaiting_answer_ = false;  // a handler has the latest request
  bool watching_ = false;         // a hang-up watch is armed
  bool sending_ = false;          // an answer's write is in progress
  bool draining_ = false;         // owed an answer at the stop, not yet written
  bool closed_ = false;           // closed, or its socket handed on
};

}  // namespace flashgate::gateway::http
