#include "worker/periodic.hpp"

#include "platform/thread_name.hpp"

namespace flashgate::worker {

Periodic::Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> task, bool run_on_stop)
    : interval_(interval), task_(std::move(task)), run_on_stop_(run_on_stop) {
  thread_ = std::thread([this, name = std::move(name)] {
    platform::name_this_thread(name);
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      task_();
      lock.lock();
    }
    lock.unlock();
    if (run_on_stop_) task_();
  });
}

Periodic::~Periodic() { stop(); }

void Periodic::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace flashgate::worker
