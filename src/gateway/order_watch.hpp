#pragma once
// Who is waiting to hear about which order: long polls (one answer, then
// gone) and event streams (every change until a final status). Woken by the
// Store's change notification; a waiter costs memory, never a thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/views.hpp"

namespace flashgate::gateway {

struct WatchLimits {
  std::size_t max_waiters = 10'000;  // long polls held at once
  std::size_t max_streams = 50'000;  // event streams held at once
  std::chrono::milliseconds heartbeat{15'000};
  std::chrono::milliseconds position_tick{1'000};  // queue position updates on streams
};

class OrderWatch {
 public:
  // Gets the order's current view; used for position updates on streams.
  using Lookup = std::function<void(const std::string& sale_id, const std::string& order_id,
                                    std::function<void(std::optional<store::OrderView>)>)>;
  OrderWatch(WatchLimits limits, Lookup lookup);
  ~OrderWatch();
  OrderWatch(const OrderWatch&) = delete;
  OrderWatch& operator=(const OrderWatch&) = delete;

  // Feed from the Store.
  void changed(const store::OrderView& view);

  // Long poll: `done` runs once, with the view when version > since, or with
  // nullopt at the deadline. Returns the waiter's id, or 0 (and `done` never
  // runs) past the bound.
  using WaitDone = std::function<void(std::optional<store::OrderView>)>;
  std::uint64_t wait(const std::string& order_id, std::uint64_t since, std::chrono::steady_clock::time_point deadline,
                     WaitDone done);
  // The client went away: the waiter is dropped and its `done` never runs.
  void cancel(const std::string& order_id, std::uint64_t waiter_id);

  // Event stream: `event` runs for each change, for position ticks while it
  // asks for them, and for heartbeats (nullopt). Ends when `event` says so,
  // or on close(). nullptr past the bound.
  class Stream;
  enum class StreamNext { more_with_position, more, finished };
  using StreamEvent = std::function<StreamNext(const std::optional<store::OrderView>&)>;
  std::shared_ptr<Stream> stream(const std::string& sale_id, const std::string& order_id, StreamEvent event);

  // Ends every waiter now (shutdown): long polls answer with nullopt, streams
  // are closed.
  void close_all();

  std::size_t waiters() const;
  std::size_t streams() const;

 private:
  struct Waiter;
  void timer_loop();
  void tick_streams();

  WatchLimits limits_;
  Lookup lookup_;
  mutable std::mutex mutex_;
  std::condition_variable timer_wake_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> waiters_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<Waiter>> deadlines_;
  std::size_t waiter_count_ = 0;
  std::uint64_t next_waiter_id_ = 1;
  std::unordered_map<std::string, std::vector<std::weak_ptr<Stream>>> streams_;
  std::size_t stream_count_ = 0;
  bool stopping_ = false;
  std::thread timer_;
};

class OrderWatch::Stream {
 public:
  Stream(OrderWatch& watch, std::string sale_id, std::string order_id, StreamEvent event)
      : watch_(watch), sale_id_(std::move(sale_id)), order_id_(std::move(order_id)), event_(std::move(event)) {}
  ~Stream() { close(); }
  void close();
  void deliver(const std::optional<store::OrderView>& view);

 private:
  friend class OrderWatch;
  OrderWatch& watch_;
  std::string sale_id_;
  std::string order_id_;
  StreamEvent event_;
  // One delivery at a time, in order. Recursive: a delivery may end its own stream.
  std::recursive_mutex mutex_;
  bool in_delivery_ = false;
  std::atomic<bool> closed_{false};
  std::atomic<bool> wants_position_{true};
};

}  // namespace flashgate::gateway
