#pragma once
// Lingering close, as nginx's (lingering_time 30 s, lingering_timeout 5 s):
// after answering a request we did not read to its end (413, 431, a
// malformed request), closing at once resets the connection under the
// unread bytes, and a client that sends its whole body before it reads
// (Python's http.client, requests) gets the reset instead of the answer.
// So the connection hands its socket here once the answer is written: our
// sending side is shut down, and what the client still sends is read and
// discarded until it closes, for at most linger_total, linger_silence
// without a byte, or linger_bytes, whichever comes first. Its slot is held
// that long. Rare (refusals only), so it keeps a timer of its own.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "gateway/http/connection_slots.hpp"

namespace flashgate::gateway::http {

class LingeringClose : public std::enable_shared_from_this<LingeringClose> {
 public:
  static constexpr std::chrono::seconds linger_total{5};
  static constexpr std::chrono::seconds linger_silence{2};
  static constexpr std::size_t linger_bytes = 64 * 1024 * 1024;

  LingeringClose(boost::asio::ip::tcp::socket socket, ConnectionSlot slot);
  // On the socket's own thread.
  void start();

 private:
  void discard();
  void wait_for_deadline();
  void close();

  boost::asio::ip::tcp::socket socket_;
  ConnectionSlot slot_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point until_;     // linger_total from the start
  std::chrono::steady_clock::time_point deadline_;  // the earlier of until_ and linger_silence from the last byte
  std::size_t discarded_ = 0;
  std::vector<char> buffer_;
  bool closed_ = false;
};

}  // namespace flashgate::gateway::http
