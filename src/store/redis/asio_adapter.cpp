#include "store/redis/asio_adapter.hpp"

#include <hiredis/async.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

namespace flashgate::store::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Lives from attach until hiredis's cleanup hook and every wait in flight are
// done: a completion may arrive after the context is gone, so each one checks
// ac_ before touching it.
class SocketWatch : public std::enable_shared_from_this<SocketWatch> {
 public:
  SocketWatch(redisAsyncContext* ac, asio::io_context& io) : ac_(ac), socket_(io) {}

  bool install() {
    error_code ec;
    socket_.assign(ac_->c.fd, ec);
    if (ec) return false;
    self_ = shared_from_this();
    ac_->ev.data = this;
    ac_->ev.addRead = [](void* p) { of(p).want(Event::read); };
    ac_->ev.delRead = [](void* p) { of(p).direction(Event::read).wanted = false; };
    ac_->ev.addWrite = [](void* p) { of(p).want(Event::write); };
    ac_->ev.delWrite = [](void* p) { of(p).direction(Event::write).wanted = false; };
    ac_->ev.cleanup = [](void* p) { of(p).cleanup(); };
    return true;
  }

 private:
  enum class Event { read, write };
  struct Direction {
    bool wanted = false;   // hiredis asked for it and has not withdrawn
    bool waiting = false;  // an async_wait is in flight
  };

  static SocketWatch& of(void* p) { return *static_cast<SocketWatch*>(p); }
  Direction& direction(Event e) { return e == Event::read ? reading_ : writing_; }

  void want(Event e) {
    direction(e).wanted = true;
    arm(e);
  }

  // One wait per direction at a time; the hooks are idempotent as hiredis
  // expects. A fresh async_wait re-registers the descriptor with epoll, which
  // then reports readiness that is already there: no edge is lost between waits.
  void arm(Event e) {
    auto& d = direction(e);
    if (d.waiting || !ac_) return;
    d.waiting = true;
    const auto type = e == Event::read ? asio::posix::descriptor_base::wait_read
                                       : asio::posix::descriptor_base::wait_write;
    socket_.async_wait(type, [self = shared_from_this(), e](const error_code& ec) {
      auto& d = self->direction(e);
      d.waiting = false;
      // An error means the descriptor was released or is unusable; the
      // client's timeouts notice a link that stops answering.
      if (ec || !self->ac_ || !d.wanted) return;
      if (e == Event::read) redisAsyncHandleRead(self->ac_);
      else redisAsyncHandleWrite(self->ac_);
      // The handler may have freed the context (cleanup cleared ac_) or withdrawn the wish.
      if (self->ac_ && d.wanted) self->arm(e);
    });
  }

  // hiredis is freeing the context and will close the fd: take the fd out of
  // epoll first (release, not close) and abort our waits.
  void cleanup() {
    ac_ = nullptr;
    reading_.wanted = writing_.wanted = false;
    if (socket_.is_open()) socket_.release();
    auto last = std::move(self_);  // may destroy *this on return when no wait holds it
  }

  redisAsyncContext* ac_;
  asio::posix::stream_descriptor socket_;
  Direction reading_;
  Direction writing_;
  std::shared_ptr<SocketWatch> self_;
};

}  // namespace

bool attach_to_asio(redisAsyncContext* ac, asio::io_context& io) {
  if (ac->ev.data != nullptr) return false;  // already driven by something else
  return std::make_shared<SocketWatch>(ac, io)->install();
}

}  // namespace flashgate::store::redis
