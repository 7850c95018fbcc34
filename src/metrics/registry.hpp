#pragma once
// Prometheus text exposition, written by hand: counters, gauges and
// histograms keyed by name and label set. Hot paths keep the references
// that counter()/histogram() return; they stay valid for the registry's life.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flashgate::metrics {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

class Registry {
 public:
  Registry();
  // Unique for the life of the process, unlike the address: for caches of references.
  std::uint64_t id() const { return id_; }

  // labels: the inside of the braces, e.g. R"(route="/x",code="200")", or empty.
  Counter& counter(const std::string& name, const std::string& help, const std::string& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::string& labels,
                       std::vector<double> bounds);
  // A value read at scrape time (queue depth, windows busy, ...).
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // Values read at scrape time, one per label set (per sale, per status, ...).
  using LabelledValues = std::vector<std::pair<std::string, double>>;
  void gauges(const std::string& name, const std::string& help, std::function<LabelledValues()> read);
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> gauge;
    std::function<LabelledValues()> gauges;
  };
  Family& family(const std::string& name, const std::string& help, const char* type);
  std::uint64_t id_;
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Escapes a label value for the exposition format.
std::string label_value(std::string_view value);

}  // namespace flashgate::metrics
