#pragma once
// Delivers the event outbox to the shop's event sink: pending events in
// rounds, spread over lanes by order (one slow call holds up one lane, not
// all), each order's events through one lane in outbox order. A call that
// fails stops its lane for the round, so no later version of that order
// overtakes it; the round's delivered events are deleted, and the rest are
// tried again after an exponential backoff with full jitter.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "database/event_outbox.hpp"
#include "metrics/registry.hpp"
#include "sink/http_poster.hpp"

namespace flashgate::sink {

struct EventDeliverySettings {
  HttpSinkSettings sink;
  std::size_t lanes = 8;
  std::size_t batch = 512;                      // events taken per round
  std::chrono::milliseconds idle_poll{200};     // how often an empty outbox is looked at
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds longest_backoff{10'000};
};

// Pure: the events of each lane, in the order given (the outbox's id order).
std::vector<std::vector<database::OutboxEvent>> assign_lanes(std::vector<database::OutboxEvent> events,
                                                             std::size_t lanes);
// Pure: the ceiling of the wait before round `failed_rounds` + 1 (full jitter draws below it).
std::chrono::milliseconds backoff_ceiling(int failed_rounds, std::chrono::milliseconds first,
                                          std::chrono::milliseconds longest);

class EventDelivery {
 public:
  // May this process deliver now? Distributed: true while it holds the
  // delivery lock; empty: always (the embedded process owns its outbox).
  using Leadership = std::function<bool()>;

  // Throws std::invalid_argument for an unusable URL or CA file.
  EventDelivery(database::EventOutbox& outbox, metrics::Registry& metrics, EventDeliverySettings settings,
                Leadership leadership = {});
  ~EventDelivery();
  EventDelivery(const EventDelivery&) = delete;
  EventDelivery& operator=(const EventDelivery&) = delete;

  void start();
  // Lets calls in flight end (each bounded by the sink's timeout) and joins the threads.
  void stop();

 private:
  struct Lane {
    std::vector<database::OutboxEvent> events;
    std::vector<std::int64_t> delivered;
    bool failed = false;
    std::string failure;  // the first failure's reason, for the log
    HttpPoster::ConnectionSlot connection;
  };

  void run();
  void run_lane(std::size_t index);
  // One round over `events`; true if every event was delivered.
  bool round(std::vector<database::OutboxEvent> events);
  bool deliver(Lane& lane, const database::OutboxEvent& event);
  // Sleeps, waking for a stop; false if stopping.
  bool pause(std::chrono::milliseconds wait);
  void refresh_depth();

  database::EventOutbox& outbox_;
  EventDeliverySettings settings_;
  Leadership leadership_;
  HttpPoster poster_;
  metrics::Counter& delivered_;
  metrics::Counter& unavailable_;
  metrics::Counter& retries_;
  metrics::Histogram& call_seconds_;
  std::atomic<double> depth_{0};

  std::mutex mutex_;
  std::condition_variable wake_;   // stop, or a new round for the lanes
  std::condition_variable done_;   // a lane finished its round
  std::uint64_t round_ = 0;
  std::size_t lanes_busy_ = 0;
  std::vector<Lane> lanes_;
  std::atomic<bool> stopping_{false};
  bool outage_ = false;  // logged once per outage, not per event
  std::unordered_set<std::int64_t> failed_before_;  // ids whose call failed: their next call is a retry
  std::mutex failed_mutex_;
  std::thread coordinator_;
  std::vector<std::thread> lane_threads_;
};

}  // namespace flashgate::sink
