#pragma once
// The running parts of a process, written down once in the order they start;
// they stop in the reverse order. A part names the parts it needs, which must
// be added before it (and so start before it and stop after it): an order
// that contradicts a need is refused by add(), when the process is wired,
// not found by a crash at shutdown.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flashgate::app {

class Lifecycle {
 public:
  struct Component {
    std::string name;
    std::function<void()> start;  // may throw; empty: started when made
    std::function<void()> stop;   // must not throw; empty: nothing to stop
    std::vector<std::string> needs = {};
  };
  enum class Step { starting, stopping };
  using Observer = std::function<void(Step, std::string_view name)>;

  // Throws std::logic_error for a name already added or a need not added yet.
  void add(Component component);
  // Starts every part in order. If one throws, those already started are
  // stopped (last first) and the exception goes on to the caller.
  void start();
  // Stops what started, last started first. Again: nothing to do.
  void stop();
  // Told of each step as it begins: for the log, and for tests.
  void observe(Observer observer) { observer_ = std::move(observer); }
  std::vector<std::string> names() const;

 private:
  std::vector<Component> components_;
  std::size_t started_ = 0;  // components_[0, started_) are running
  Observer observer_;
};

}  // namespace flashgate::app
