#pragma once
// Prometheus text exposition, written by hand: counters, gauges and
// histograms keyed by name and label set. Hot paths keep the references
// that counter()/histogram() return; they stay valid for the registry's life.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flashgate::metrics {

// Counters and histograms are striped: each thread adds to one of
// `stripes` cache lines (threads take them in turn), and a scrape sums them.
// One shared line per metric went to and fro between the I/O threads on
// every request: the request counter and latency histogram were 2% of a
// poll's cycles.
inline constexpr std::size_t stripes = 16;
std::size_t stripe_of_this_thread();

class Counter {
 public:
  void inc(std::uint64_t n = 1) { cells_[stripe_of_this_thread()].value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<Cell, stripes> cells_;
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  // A stripe's words: a count per bound and +Inf, the count, the sum (a
  // double's bits); in whole cache lines of their own.
  struct alignas(64) Line {
    std::atomic<std::uint64_t> words[8];
  };
  std::atomic<std::uint64_t>& word(std::size_t stripe, std::size_t i) const {
    return lines_[stripe * lines_per_stripe_ + i / 8].words[i % 8];
  }
  std::vector<double> bounds_;
  std::size_t lines_per_stripe_;
  mutable std::vector<Line> lines_;
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
