#include "gateway/http/lingering_close.hpp"

#include <algorithm>

namespace flashgate::gateway::http {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {
constexpr std::size_t linger_chunk = 16 * 1024;
}

LingeringClose::LingeringClose(asio::ip::tcp::socket socket, ConnectionSlot slot)
    : socket_(std::move(socket)), slot_(std::move(slot)), timer_(socket_.get_executor()) {}

void LingeringClose::start() {
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);  // the client sees the answer end
  if (ec) return close();
  buffer_.resize(linger_chunk);
  until_ = Clock::now() + linger_total;
  deadline_ = std::min(until_, Clock::now() + linger_silence);
  wait_for_deadline();
  discard();
}

void LingeringClose::discard() {
  socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
    self->discarded_ += n;
    if (ec || self->closed_ || self->discarded_ >= linger_bytes) return self->close();
    self->deadline_ = std::min(self->until_, Clock::now() + linger_silence);
    self->discard();
  });
}

// One wait at a time: a byte moves the deadline, and the wait, when it
// fires, waits again for whatever the deadline is by then.
void LingeringClose::wait_for_deadline() {
  timer_.expires_at(deadline_);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return;
    if (Clock::now() >= self->deadline_) return self->close();
    self->wait_for_deadline();
  });
}

void LingeringClose::close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.close(ec);
  timer_.cancel();
}

}  // namespace flashgate::gateway::http
