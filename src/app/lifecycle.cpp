#include "app/lifecycle.hpp"

#include <algorithm>
#include <stdexcept>

namespace flashgate::app {

void Lifecycle::add(Component component) {
  const auto added = [this](const std::string& name) {
    return std::any_of(components_.begin(), components_.end(), [&name](const Component& c) { return c.name == name; });
  };
  if (added(component.name)) throw std::logic_error("lifecycle: " + component.name + " added twice");
  for (const auto& need : component.needs)
    if (!added(need)) throw std::logic_error("lifecycle: " + component.name + " needs " + need + ", not added before it");
  components_.push_back(std::move(component));
}

void Lifecycle::start() {
  while (started_ < components_.size()) {
    const auto& component = components_[started_];
    if (observer_) observer_(Step::starting, component.name);
    try {
      if (component.start) component.start();
    } catch (...) {
      stop();
      throw;
    }
    ++started_;
  }
}

void Lifecycle::stop() {
  while (started_ > 0) {
    const auto& component = components_[--started_];
    if (observer_) observer_(Step::stopping, component.name);
    if (component.stop) component.stop();
  }
}

std::vector<std::string> Lifecycle::names() const {
  std::vector<std::string> names;
  for (const auto& c : components_) names.push_back(c.name);
  return names;
}

}  // namespace flashgate::app
