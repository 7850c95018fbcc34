// The waiting room of long polls and event streams: what reaches a stream
// when a change notification never came.
#include "gateway/order_watch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using flashgate::domain::OrderStatus;
using flashgate::gateway::OrderWatch;
using flashgate::gateway::WatchLimits;
using flashgate::store::OrderView;

OrderView view(std::uint64_t version, OrderStatus status) {
  OrderView v;
  v.order.order_id = "o1";
  v.order.sale_id = "s1";
  v.order.version = version;
  v.order.status = status;
  return v;
}

// A stream's events as the handler sees them: nullopt is a heartbeat.
struct Seen {
  std::mutex mutex;
  std::vector<std::uint64_t> versions;
  int heartbeats = 0;
};

TEST(OrderWatch, AStreamLearnsAChangeWhoseNotificationNeverCameAtTheNextHeartbeat) {
  std::atomic<std::uint64_t> stored_version{3};  // what the store says now: CONFIRMED, version 3
  WatchLimits limits;
  limits.heartbeat = 50ms;
  limits.position_tick = 1h;  // no position look-ups: the stream is past QUEUED
  OrderWatch watch(limits, [&](const std::string&, const std::string&, auto done) {
    done(view(stored_version, stored_version >= 4 ? OrderStatus::paid : OrderStatus::confirmed));
  });
  Seen seen;
  auto stream = watch.stream("s1", "o1", [&](const std::optional<OrderView>& v) {
    std::lock_guard lock(seen.mutex);
    if (!v) {
      ++seen.heartbeats;
      return OrderWatch::StreamNext::more;
    }
    if (seen.versions.empty() || v->order.version > seen.versions.back()) seen.versions.push_back(v->order.version);
    return flashgate::domain::is_final(v->order.status) ? OrderWatch::StreamNext::finished
                                                        : OrderWatch::StreamNext::more;
  });
  ASSERT_TRUE(stream);
  stream->deliver(view(3, OrderStatus::confirmed));

  stored_version = 4;  // PAID in the store; watch.changed() is never called
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lock(seen.mutex);
      if (seen.versions.back() == 4) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now() - start, 20s) << "the stream never learnt version 4";
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.versions, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_GE(seen.heartbeats, 1);  // keep-alives go on as before
  EXPECT_EQ(watch.streams(), 0u);  // PAID is final: the stream ended
}

}  // namespace
