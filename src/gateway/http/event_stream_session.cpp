#include "gateway/http/event_stream_session.hpp"

#include <boost/asio/write.hpp>

#include "gateway/http/socket_errors.hpp"

namespace flashgate::gateway::http {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

EventStreamSession::EventStreamSession(asio::ip::tcp::socket socket, ConnectionSlot slot)
    : socket_(std::move(socket)), slot_(std::move(slot)) {}

void EventStreamSession::start(std::string first, bool ended, std::vector<std::function<void()>> on_hangup) {
  abort_callbacks_ = std::move(on_hangup);
  ending_ = ended;
  // A stream lasts minutes: a client that hangs up frees its slot and its
  // waiter at once, not at the next keep-alive that fails.
  watch_for_hangup();
  write(std::move(first));
}

void EventStreamSession::write(std::string chunk) {
  if (closed_) return;
  if (writing_) {
    pending_ += chunk;
    return;
  }
  out_ = std::move(chunk);
  write_out();
}

void EventStreamSession::end() {
  ending_ = true;
  if (!writing_) close();
}

void EventStreamSession::on_abort(std::function<void()> callback) {
  if (closed_) return callback();
  abort_callbacks_.push_back(std::move(callback));
}

void EventStreamSession::write_out() {
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
      return self->write_out();
    }
    if (self->ending_) self->close();
  });
}

// Nothing more is expected from the client: bytes it sends are dropped, and
// the end of its side or a reset is the hang-up.
void EventStreamSession::watch_for_hangup() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return;
    char discarded[512];
    error_code read_ec;
    self->socket_.read_some(asio::buffer(discarded), read_ec);
    if (read_ec && !would_block(read_ec)) return self->close();
    self->watch_for_hangup();
  });
}

void EventStreamSession::close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  socket_.close(ec);
  std::string().swap(pending_);
  auto callbacks = std::move(abort_callbacks_);
  for (auto& cb : callbacks) cb();
}

}  // namespace flashgate::gateway::http
