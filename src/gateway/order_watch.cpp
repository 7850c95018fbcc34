#include "gateway/order_watch.hpp"

#include <algorithm>

#include "platform/thread_name.hpp"

namespace flashgate::gateway {

struct OrderWatch::Waiter {
  std::uint64_t id = 0;
  std::string order_id;
  std::uint64_t since;
  WaitDone done;
  std::atomic<bool> fired{false};
};

OrderWatch::OrderWatch(WatchLimits limits, Lookup lookup) : limits_(limits), lookup_(std::move(lookup)) {
  timer_ = std::thread([this] {
    platform::name_this_thread("fg-watch-timer");
    timer_loop();
  });
}

OrderWatch::~OrderWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  timer_wake_.notify_all();
  timer_.join();
}

void OrderWatch::changed(const store::OrderView& view) {
  std::vector<std::shared_ptr<Waiter>> woken;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mutex_);
    if (auto it = waiters_.find(view.order.order_id); it != waiters_.end()) {
      auto& list = it->second;
      auto newer = std::stable_partition(list.begin(), list.end(),
                                         [&](const auto& w) { return w->since >= view.order.version; });
      woken.assign(std::make_move_iterator(newer), std::make_move_iterator(list.end()));
      list.erase(newer, list.end());
      waiter_count_ -= woken.size();
      if (list.empty()) waiters_.erase(it);
    }
    if (auto it = streams_.find(view.order.order_id); it != streams_.end())
      for (const auto& weak : it->second)
        if (auto stream = weak.lock()) streams.push_back(std::move(stream));
  }
  for (const auto& waiter : woken)
    if (!waiter->fired.exchange(true)) waiter->done(view);
  for (const auto& stream : streams) stream->deliver(view);
}

std::uint64_t OrderWatch::wait(const std::string& order_id, std::uint64_t since,
                               std::chrono::steady_clock::time_point deadline, WaitDone done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->order_id = order_id;
  waiter->since = since;
  waiter->done = std::move(done);
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || waiter_count_ >= limits_.max_waiters) return 0;
    waiter->id = next_waiter_id_++;
    waiters_[order_id].push_back(waiter);
    ++waiter_count_;
    const bool earliest = deadlines_.empty() || deadline < deadlines_.begin()->first;
    deadlines_.emplace(deadline, waiter);
    if (earliest) timer_wake_.notify_one();
  }
  return waiter->id;
}

void OrderWatch::cancel(const std::string& order_id, std::uint64_t waiter_id) {
  std::lock_guard lock(mutex_);
  auto it = waiters_.find(order_id);
  if (it == waiters_.end()) return;
  auto& list = it->second;
  auto found = std::find_if(list.begin(), list.end(), [&](const auto& w) { return w->id == waiter_id; });
  if (found == list.end() || (*found)->fired.exchange(true)) return;
  list.erase(found);  // its deadline entry expires harmlessly: the weak pointer is gone
  --waiter_count_;
  if (list.empty()) waiters_.erase(it);
}

std::shared_ptr<OrderWatch::Stream> OrderWatch::stream(const std::string& sale_id, const std::string& order_id,
                                                       StreamEvent event) {
  auto stream = std::make_shared<Stream>(*this, sale_id, order_id, std::move(event));
  std::lock_guard lock(mutex_);
  if (stopping_ || stream_count_ >= limits_.max_streams) return nullptr;
  streams_[order_id].push_back(stream);
  ++stream_count_;
  return stream;
}

void OrderWatch::Stream::close() {
  if (closed_.exchange(true)) return;
  {
    // The event holds the client's exchange, which holds this stream: let go
    // of it so that the cycle ends (after the delivery, if one is running).
    std::lock_guard delivery(mutex_);
    if (!in_delivery_) event_ = nullptr;
  }
  std::lock_guard lock(watch_.mutex_);
  auto it = watch_.streams_.find(order_id_);
  if (it == watch_.streams_.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [this](const auto& weak) {
                              auto other = weak.lock();
                              return !other || other.get() == this;
                            }),
             list.end());
  if (list.empty()) watch_.streams_.erase(it);
  --watch_.stream_count_;
}

void OrderWatch::Stream::deliver(const std::optional<store::OrderView>& view) {
  std::lock_guard lock(mutex_);
  if (closed_ || !event_) return;
  in_delivery_ = true;
  const auto next = event_(view);
  in_delivery_ = false;
  wants_position_ = next == StreamNext::more_with_position;
  if (next == StreamNext::finished) close();
  if (closed_) event_ = nullptr;
}

void OrderWatch::timer_loop() {
  using clock = std::chrono::steady_clock;
  auto next_tick = clock::now() + limits_.position_tick;
  auto next_heartbeat = clock::now() + limits_.heartbeat;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto wake_at = std::min(next_tick, next_heartbeat);
    if (!deadlines_.empty()) wake_at = std::min(wake_at, deadlines_.begin()->first);
    timer_wake_.wait_until(lock, wake_at);
    const auto now = clock::now();
    std::vector<std::shared_ptr<Waiter>> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      if (auto waiter = deadlines_.begin()->second.lock(); waiter && !waiter->fired.exchange(true)) {
        auto it = waiters_.find(waiter->order_id);
        if (it != waiters_.end()) {
          std::erase(it->second, waiter);
          if (it->second.empty()) waiters_.erase(it);
        }
        --waiter_count_;
        expired.push_back(std::move(waiter));
      }
      deadlines_.erase(deadlines_.begin());
    }
    std::vector<std::shared_ptr<Stream>> streams;
    const bool tick = now >= next_tick;
    const bool heartbeat = now >= next_heartbeat;
    if (tick || heartbeat) {
      for (const auto& [id, list] : streams_)
        for (const auto& weak : list)
          if (auto stream = weak.lock(); stream && (heartbeat || stream->wants_position_)) streams.push_back(stream);
      if (tick) next_tick = now + limits_.position_tick;
      if (heartbeat) next_heartbeat = now + limits_.heartbeat;
    }
    lock.unlock();
    for (const auto& waiter : expired) waiter->done(std::nullopt);
    // Every stream is looked up at each heartbeat too, not only while it
    // wants positions: a change whose notification never came (a Redis change
    // feed trimmed past a gateway that fell behind) still reaches the client.
    // A stream sends only what is newer than what it sent.
    for (const auto& stream : streams) {
      if (heartbeat) stream->deliver(std::nullopt);
      lookup_(stream->sale_id_, stream->order_id_, [stream](std::optional<store::OrderView> view) {
        if (view) stream->deliver(view);
      });
    }
    lock.lock();
  }
}

void OrderWatch::close_all() {
  std::vector<std::shared_ptr<Waiter>> all;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& [id, list] : streams_)
      for (const auto& weak : list)
        if (auto stream = weak.lock()) streams.push_back(std::move(stream));
    for (auto& [id, list] : waiters_)
      for (auto& waiter : list) all.push_back(std::move(waiter));
    waiters_.clear();
    deadlines_.clear();
    waiter_count_ = 0;
  }
  timer_wake_.notify_all();
  for (const auto& waiter : all)
    if (!waiter->fired.exchange(true)) waiter->done(std::nullopt);
  for (const auto& stream : streams) stream->close();
}

std::size_t OrderWatch::waiters() const {
  std::lock_guard lock(mutex_);
  return waiter_count_;
}

std::size_t OrderWatch::streams() const {
  std::lock_guard lock(mutex_);
  return stream_count_;
}

}  // namespace flashgate::gateway
