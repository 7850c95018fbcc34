#pragma once
// A thread that runs a task every `interval` until stopped; stop() wakes it
// at once and runs the task a last time (a final flush on shutdown).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace flashgate::worker {

class Periodic {
 public:
  // name: the thread's, as top -H shows it (at most 15 bytes).
  Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> task, bool run_on_stop = false);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;
  void stop();

 private:
  std::chrono::milliseconds interval_;
  std::function<void()> task_;
  bool run_on_stop_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flashgate::worker
