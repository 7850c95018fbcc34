#include "metrics/registry.hpp"

#include <fmt/format.h>

#include <bit>

namespace flashgate::metrics {

std::size_t stripe_of_this_thread() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % stripes;
  return stripe;
}

std::uint64_t Counter::value() const {
  std::uint64_t total = 0;
  for (const auto& cell : cells_) total += cell.value.load(std::memory_order_relaxed);
  return total;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), lines_per_stripe_((bounds_.size() + 3 + 7) / 8), lines_(stripes * lines_per_stripe_) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  const std::size_t s = stripe_of_this_thread();
  word(s, i).fetch_add(1, std::memory_order_relaxed);
  word(s, bounds_.size() + 1).fetch_add(1, std::memory_order_relaxed);
  auto& sum = word(s, bounds_.size() + 2);
  std::uint64_t bits = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(bits) + value),
                                    std::memory_order_relaxed)) {
  }
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::vector<std::uint64_t> buckets(bounds_.size() + 1);
  std::uint64_t count = 0;
  double sum = 0;
  for (std::size_t s = 0; s < stripes; ++s) {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += word(s, i).load(std::memory_order_relaxed);
    count += word(s, bounds_.size() + 1).load(std::memory_order_relaxed);
    sum += std::bit_cast<double>(word(s, bounds_.size() + 2).load(std::memory_order_relaxed));
  }
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  cumulative += buckets[bounds_.size()];
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n", name, braces, sum);
  out += fmt::format("{}_count{} {}\n", name, braces, count);
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
