// Counters and histograms are striped per thread; a scrape must still see
// every addition exactly once, whichever threads made them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.hpp"

namespace {

using flashgate::metrics::Registry;

constexpr int threads = 40;  // more than there are stripes: some threads share one
constexpr int per_thread = 5000;

TEST(MetricsRegistry, CountsFromManyThreadsAddUp) {
  Registry registry;
  auto& counter = registry.counter("test_total", "help");
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&counter] {
      for (int i = 0; i < per_thread; ++i) counter.inc();
    });
  for (auto& w : workers) w.join();
  counter.inc(7);
  EXPECT_EQ(counter.value(), static_cast<std::uint64_t>(threads * per_thread + 7));
  EXPECT_NE(registry.render().find("test_total " + std::to_string(threads * per_thread + 7) + "\n"),
            std::string::npos);
}

TEST(MetricsRegistry, HistogramsFromManyThreadsAddUp) {
  Registry registry;
  auto& histogram = registry.histogram("test_seconds", "help", "op=\"x\"", {0.5, 1.0});
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&histogram, t] {
      for (int i = 0; i < per_thread; ++i) histogram.observe(t % 3 == 0 ? 0.25 : (t % 3 == 1 ? 0.75 : 2.0));
    });
  for (auto& w : workers) w.join();
  int low = 0, mid = 0, high = 0;
  for (int t = 0; t < threads; ++t) (t % 3 == 0 ? low : (t % 3 == 1 ? mid : high)) += per_thread;
  const std::string text = registry.render();
  const auto expect_line = [&text](const std::string& line) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << " not in:\n" << text;
  };
  expect_line("test_seconds_bucket{op=\"x\",le=\"0.5\"} " + std::to_string(low));
  expect_line("test_seconds_bucket{op=\"x\",le=\"1\"} " + std::to_string(low + mid));
  expect_line("test_seconds_bucket{op=\"x\",le=\"+Inf\"} " + std::to_string(low + mid + high));
  expect_line("test_seconds_count{op=\"x\"} " + std::to_string(low + mid + high));
  expect_line("test_seconds_sum{op=\"x\"} " + fmt::format("{}", low * 0.25 + mid * 0.75 + high * 2.0));
}

}  // namespace
