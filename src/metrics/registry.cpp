#include "metrics/registry.hpp"

#include <fmt/format.h>

namespace flashgate::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n", name, braces, sum_.load(std::memory_order_relaxed));
  out += fmt::format("{}_count{} {}\n", name, braces, count_.load(std::memory_order_relaxed));
}

Registry::Registry() {
  static std::atomic<std::uint64_t> next{1};
  id_ = next.fetch_add(1);
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, const char* type) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  return f;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const std::string& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, "counter").counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::string& labels,
                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, "histogram").histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

void Registry::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  family(name, help, "gauge").gauge = std::move(read);
}

void Registry::gauges(const std::string& name, const std::string& help, std::function<LabelledValues()> read) {
  std::lock_guard lock(mutex_);
  family(name, help, "gauge").gauges = std::move(read);
}

std::string Registry::render() const {
  // Gauges may ask the store (a network round trip on Redis): they are read
  // after the lock is let go, so that no counter waits for a scrape.
  struct Part {
    std::string text;
    std::string name;
    std::function<double()> gauge;
    std::function<LabelledValues()> gauges;
  };
  std::vector<Part> parts;
  {
    std::lock_guard lock(mutex_);
    parts.reserve(families_.size());
    for (const auto& [name, f] : families_) {
      Part part{fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type), name, f.gauge, f.gauges};
      for (const auto& [labels, c] : f.counters) {
        if (labels.empty()) part.text += fmt::format("{} {}\n", name, c->value());
        else part.text += fmt::format("{}{{{}}} {}\n", name, labels, c->value());
      }
      for (const auto& [labels, h] : f.histograms) h->render(part.text, name, labels);
      parts.push_back(std::move(part));
    }
  }
  std::string out;
  for (auto& part : parts) {
    out += part.text;
    if (part.gauge) out += fmt::format("{} {}\n", part.name, part.gauge());
    if (part.gauges)
      for (const auto& [labels, value] : part.gauges()) out += fmt::format("{}{{{}}} {}\n", part.name, labels, value);
  }
  return out;
}

std::string label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace flashgate::metrics
