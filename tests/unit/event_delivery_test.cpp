// The pure parts of the event delivery: lanes keep each order's events
// together and in outbox order; the backoff doubles up to its cap.
#include "sink/event_delivery.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace {

using flashgate::database::OutboxEvent;
using flashgate::sink::assign_lanes;
using flashgate::sink::backoff_ceiling;
using std::chrono::milliseconds;

OutboxEvent event(std::int64_t id, std::string order_id, std::uint64_t version) {
  OutboxEvent e;
  e.id = id;
  e.order_id = std::move(order_id);
  e.version = version;
  return e;
}

TEST(EventDelivery, EachOrderGoesThroughOneLaneInOutboxOrder) {
  std::vector<OutboxEvent> events;
  std::int64_t id = 0;
  for (std::uint64_t version = 3; version <= 4; ++version)
    for (int order = 0; order < 50; ++order) events.push_back(event(++id, "o-" + std::to_string(order), version));
  const auto lanes = assign_lanes(events, 8);
  ASSERT_EQ(lanes.size(), 8u);
  std::map<std::string, std::size_t> lane_of;
  std::size_t total = 0, used = 0;
  for (std::size_t lane = 0; lane < lanes.size(); ++lane) {
    used += lanes[lane].empty() ? 0 : 1;
    for (std::size_t i = 0; i < lanes[lane].size(); ++i) {
      const auto& e = lanes[lane][i];
      ++total;
      const auto [it, inserted] = lane_of.emplace(e.order_id, lane);
      EXPECT_EQ(it->second, lane) << e.order_id << " is in two lanes";
      if (i > 0) {
        EXPECT_LT(lanes[lane][i - 1].id, e.id);  // outbox order kept
      }
    }
  }
  EXPECT_EQ(total, events.size());
  EXPECT_GT(used, 1u);  // 50 orders spread over more than one lane
}

TEST(EventDelivery, NoLanesMeansOne) { EXPECT_EQ(assign_lanes({event(1, "o", 3)}, 0).size(), 1u); }

TEST(EventDelivery, BackoffDoublesUpToItsCap) {
  EXPECT_EQ(backoff_ceiling(0, milliseconds(100), milliseconds(10'000)), milliseconds(100));
  EXPECT_EQ(backoff_ceiling(1, milliseconds(100), milliseconds(10'000)), milliseconds(200));
  EXPECT_EQ(backoff_ceiling(6, milliseconds(100), milliseconds(10'000)), milliseconds(6'400));
  EXPECT_EQ(backoff_ceiling(7, milliseconds(100), milliseconds(10'000)), milliseconds(10'000));
  EXPECT_EQ(backoff_ceiling(1'000, milliseconds(100), milliseconds(10'000)), milliseconds(10'000));
}

}  // namespace
