#pragma once
// Connection deadlines without a timer operation per request: a connection
// only stores when it is due, and each I/O thread's sweeper walks its
// connections a few times a second and closes the overdue ones. Beast's
// tcp_stream re-arms a timer (a heap update under a lock) before every
// read and write; at tens of thousands of requests a second that was a
// visible share of the server's time. Timeouts are seconds long, so a
// quarter-second tick is precise enough.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace flashgate::gateway::http {

class Expiring {
 public:
  virtual ~Expiring() = default;
  // Closes itself if its deadline has passed; true once closed (forget it).
  virtual bool expire_if_due(std::chrono::steady_clock::time_point now) = 0;
};

class DeadlineSweeper {
 public:
  static constexpr std::chrono::milliseconds tick{250};

  explicit DeadlineSweeper(boost::asio::io_context& context) : timer_(context) {}
  // From the context's own thread only.
  void watch(std::weak_ptr<Expiring> connection) { watched_.push_back(std::move(connection)); }
  void start() { arm(); }
  // Every connection still open, from the context's own thread only.
  template <class Visit>
  void for_each(Visit visit) const {
    for (const auto& weak : watched_)
      if (auto connection = weak.lock()) visit(connection);
  }

 private:
  void arm() {
    timer_.expires_after(tick);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      sweep(std::chrono::steady_clock::now());
      arm();
    });
  }

  void sweep(std::chrono::steady_clock::time_point now) {
    std::size_t kept = 0;
    for (auto& weak : watched_) {
      auto connection = weak.lock();
      if (!connection || connection->expire_if_due(now)) continue;
      if (&watched_[kept] != &weak) watched_[kept] = std::move(weak);
      ++kept;
    }
    watched_.resize(kept);
  }

  boost::asio::steady_timer timer_;
  std::vector<std::weak_ptr<Expiring>> watched_;
};

}  // namespace flashgate::gateway::http
