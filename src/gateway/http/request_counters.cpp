#include "gateway/http/request_counters.hpp"

#include <string>

namespace flashgate::gateway::http {

void RequestCounters::count(std::string_view route, int status, std::optional<Clock::time_point> started) {
  auto& slot = slot_for(route, status);
  slot.requests->inc();
  if (started) slot.duration->observe(std::chrono::duration<double>(Clock::now() - *started).count());
}

RequestCounters::Slot& RequestCounters::slot_for(std::string_view route, int status) {
  thread_local std::vector<Slot> slots;
  thread_local std::uint64_t owner = 0;
  if (owner != registry_.id()) {  // another server (tests run several in one process)
    slots.clear();
    owner = registry_.id();
  }
  for (auto& slot : slots)
    if (slot.route == route.data() && slot.route_size == route.size() && slot.status == status) return slot;
  const std::string route_label = "route=\"" + metrics::label_value(std::string(route)) + "\"";
  Slot slot{route.data(), route.size(), status,
            &registry_.counter("flashgate_http_requests_total", "HTTP requests by route and status code",
                               route_label + ",code=\"" + std::to_string(status) + "\""),
            &registry_.histogram("flashgate_http_request_duration_seconds",
                                 "Time from a request read to its answer, by route", route_label,
                                 {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30})};
  slots.push_back(slot);
  return slots.back();
}

}  // namespace flashgate::gateway::http
