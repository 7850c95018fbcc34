#include "sink/event_delivery.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

#include "platform/thread_name.hpp"
#include "sink/sink_protocol.hpp"

namespace flashgate::sink {

using database::OutboxEvent;

std::vector<std::vector<OutboxEvent>> assign_lanes(std::vector<OutboxEvent> events, std::size_t lanes) {
  std::vector<std::vector<OutboxEvent>> assigned(std::max<std::size_t>(lanes, 1));
  for (auto& event : events)
    assigned[std::hash<std::string>{}(event.order_id) % assigned.size()].push_back(std::move(event));
  return assigned;
}

std::chrono::milliseconds backoff_ceiling(int failed_rounds, std::chrono::milliseconds first,
                                          std::chrono::milliseconds longest) {
  const auto doubled = first.count() << std::clamp(failed_rounds, 0, 20);
  return std::chrono::milliseconds(std::min<std::int64_t>(doubled, longest.count()));
}

namespace {
constexpr const char* calls_help = "Calls to the shop's services by their answer";
}

EventDelivery::EventDelivery(database::EventOutbox& outbox, metrics::Registry& metrics,
                             EventDeliverySettings settings, Leadership leadership)
    : outbox_(outbox),
      settings_(std::move(settings)),
      leadership_(std::move(leadership)),
      poster_(settings_.sink.url, settings_.sink.ca_file, settings_.sink.timeout, "event_sink"),
      delivered_(metrics.counter("flashgate_sink_calls_total", calls_help, "sink=\"event\",result=\"delivered\"")),
      unavailable_(metrics.counter("flashgate_sink_calls_total", calls_help, "sink=\"event\",result=\"unavailable\"")),
      retries_(metrics.counter("flashgate_sink_retries_total", "Calls to the shop's services that repeat a failed one",
                               "sink=\"event\"")),
      call_seconds_(metrics.histogram("flashgate_sink_call_seconds", "Duration of one call to the shop's services",
                                      "sink=\"event\"", {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      lanes_(std::max<std::size_t>(settings_.lanes, 1)) {
  // The delivery loop refreshes it: a scrape never queries the database.
  metrics.gauge("flashgate_event_outbox_depth", "Outcomes waiting for the shop's event sink",
                [this] { return depth_.load(); });
}

EventDelivery::~EventDelivery() { stop(); }

void EventDelivery::start() {
  for (std::size_t i = 0; i < lanes_.size(); ++i)
    lane_threads_.emplace_back([this, i] {
      platform::name_this_thread("fg-event-" + std::to_string(i));
      run_lane(i);
    });
  coordinator_ = std::thread([this] {
    platform::name_this_thread("fg-events");
    run();
  });
}

void EventDelivery::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  done_.notify_all();
  if (coordinator_.joinable()) coordinator_.join();
  for (auto& t : lane_threads_) t.join();
  lane_threads_.clear();
}

bool EventDelivery::pause(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, wait, [this] { return stopping_.load(); });
}

void EventDelivery::refresh_depth() {
  if (const auto depth = outbox_.depth()) depth_ = static_cast<double>(*depth);
}

void EventDelivery::run() {
  int failed_rounds = 0;
  bool leading = false;
  while (!stopping_) {
    if (leadership_ && !leadership_()) {
      if (leading) spdlog::warn("event sink: this worker no longer holds the delivery lock");
      leading = false;
      refresh_depth();
      if (!pause(std::chrono::milliseconds(1000))) return;
      continue;
    }
    if (leadership_ && !leading) spdlog::info("event sink: this worker delivers the outbox");
    leading = true;
    auto events = outbox_.take(settings_.batch);
    if (!events) {  // the database has logged why
      if (!pause(std::chrono::milliseconds(1000))) return;
      continue;
    }
    if (events->empty()) {
      depth_ = 0;
      if (!pause(settings_.idle_poll)) return;
      continue;
    }
    const bool all_delivered = round(std::move(*events));
    refresh_depth();
    if (all_delivered) {
      failed_rounds = 0;
      continue;  // a full batch may have more behind it; an empty take then waits
    }
    const auto ceiling = backoff_ceiling(failed_rounds++, settings_.first_backoff, settings_.longest_backoff);
    const auto wait = std::chrono::milliseconds(randombytes_uniform(static_cast<std::uint32_t>(ceiling.count()) + 1));
    if (!pause(wait)) return;
  }
}

bool EventDelivery::round(std::vector<OutboxEvent> events) {
  auto assigned = assign_lanes(std::move(events), lanes_.size());
  {
    std::unique_lock lock(mutex_);
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      lanes_[i].events = std::move(assigned[i]);
      lanes_[i].delivered.clear();
      lanes_[i].failed = false;
      lanes_[i].failure.clear();
    }
    ++round_;
    lanes_busy_ = lanes_.size();
    wake_.notify_all();
    done_.wait(lock, [this] { return lanes_busy_ == 0; });
  }
  std::vector<std::int64_t> delivered;
  bool all = true;
  std::string failure;
  for (const auto& lane : lanes_) {
    delivered.insert(delivered.end(), lane.delivered.begin(), lane.delivered.end());
    if (lane.failed || lane.delivered.size() < lane.events.size()) all = false;
    if (lane.failed && failure.empty()) failure = lane.failure;
  }
  // Not deleted (the database is down): delivered again later; the shop drops repeats by Flashgate-Event-Id.
  if (!delivered.empty() && !outbox_.delivered(delivered))
    spdlog::warn("event sink: {} delivered events could not be marked as such; they will be sent again",
                 delivered.size());
  if (!failure.empty() && !outage_) {
    outage_ = true;
    spdlog::warn("event sink unavailable ({}): outcomes wait in the outbox and are retried", failure);
  } else if (all && outage_) {
    outage_ = false;
    spdlog::info("event sink answers again: delivering the outbox");
  }
  return all;
}

void EventDelivery::run_lane(std::size_t index) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || round_ != seen; });
      if (round_ == seen) return;  // stopping, and no round for us
      seen = round_;
    }
    Lane& lane = lanes_[index];  // this thread's alone until it reports done
    for (const auto& event : lane.events) {
      if (stopping_ || !deliver(lane, event)) break;  // later versions of this order wait too
      lane.delivered.push_back(event.id);
    }
    {
      std::lock_guard lock(mutex_);
      --lanes_busy_;
    }
    done_.notify_all();
  }
}

bool EventDelivery::deliver(Lane& lane, const OutboxEvent& event) {
  {
    std::lock_guard lock(failed_mutex_);
    if (failed_before_.contains(event.id)) retries_.inc();
  }
  const std::string body = event_body(event);
  const auto unix_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const HttpPoster::Headers headers{{"Flashgate-Event-Id", event_id(event)},
                                    {"Flashgate-Signature", signature_header(settings_.sink.secret, unix_seconds, body)}};
  const auto started = std::chrono::steady_clock::now();
  const auto reply = poster_.post(lane.connection, headers, body);
  call_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  const bool ok = reply.error.empty() && reply.status >= 200 && reply.status < 300;
  std::lock_guard lock(failed_mutex_);
  if (ok) {
    delivered_.inc();
    failed_before_.erase(event.id);
    return true;
  }
  unavailable_.inc();
  failed_before_.insert(event.id);
  lane.failed = true;
  lane.failure = reply.error.empty() ? "HTTP " + std::to_string(reply.status) : reply.error;
  return false;
}

}  // namespace flashgate::sink
