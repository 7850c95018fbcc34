#pragma once
// An event stream's connection once its head is on its way. The
// request/response connection hands over its socket and its slot, as Beast's
// HTTP session hands a socket to a websocket session: from then on nothing
// is read but a hang-up, and the connection closes when the stream ends.
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/http/connection_slots.hpp"

namespace flashgate::gateway::http {

// Every call on the socket's own thread.
class EventStreamSession : public std::enable_shared_from_this<EventStreamSession> {
 public:
  EventStreamSession(boost::asio::ip::tcp::socket socket, ConnectionSlot slot);
  EventStreamSession(const EventStreamSession&) = delete;
  EventStreamSession& operator=(const EventStreamSession&) = delete;

  // `first`: the head and the chunks written before it. `ended`: the stream
  // was ended before its head went out. `on_hangup`: callbacks registered
  // while the request was still the other connection's.
  void start(std::string first, bool ended, std::vector<std::function<void()>> on_hangup);
  void write(std::string chunk);
  // Closes once what is written is on the wire.
  void end();
  // Called once if the client goes away first (at once if it has).
  void on_abort(std::function<void()> callback);

 private:
  void write_out();
  void watch_for_hangup();
  void close();

  boost::asio::ip::tcp::socket socket_;
  ConnectionSlot slot_;
  std::string out_;      // the chunk on the wire
  std::string pending_;  // chunks gathered behind it
  std::vector<std::function<void()>> abort_callbacks_;
  bool writing_ = false;
  bool ending_ = false;
  bool closed_ = false;
};

}  // namespace flashgate::gateway::http
