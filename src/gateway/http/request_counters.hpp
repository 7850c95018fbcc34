#pragma once
// Request counts and latencies by route and status, without a registry
// look-up per request: each thread keeps the few (route, status) pairs it
// has seen. Routes are the router's patterns or literals, so the text's
// address names them.
#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "metrics/registry.hpp"

namespace flashgate::gateway::http {

class RequestCounters {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RequestCounters(metrics::Registry& registry) : registry_(registry) {}

  // `started`: when the request was read; a streamed answer counts until its head.
  void count(std::string_view route, int status, std::optional<Clock::time_point> started = std::nullopt);

 private:
  struct Slot {
    const char* route;
    std::size_t route_size;
    int status;
    metrics::Counter* requests;
    metrics::Histogram* duration;
  };
  Slot& slot_for(std::string_view route, int status);

  metrics::Registry& registry_;
};

}  // namespace flashgate::gateway::http
