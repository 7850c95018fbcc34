#pragma once
// Open connections, per process and per client address; a trusted proxy's
// are counted per process only.
#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "gateway/http_server.hpp"

namespace flashgate::gateway::http {

class ConnectionSlots {
 public:
  explicit ConnectionSlots(const ServerLimits& limits) : limits_(limits) {}
  bool acquire(const std::string& address) {
    const bool proxy = std::find(limits_.trusted_proxies.begin(), limits_.trusted_proxies.end(), address) !=
                       limits_.trusted_proxies.end();
    std::lock_guard lock(mutex_);
    if (open_ >= limits_.connections) return false;
    if (proxy) {
      ++open_;
      return true;
    }
    auto& count = per_client_[address];
    if (count >= limits_.connections_per_client) return false;
    ++count;
    ++open_;
    return true;
  }
  void release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(address);  // none for a trusted proxy
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    --open_;
  }
  std::size_t open() const {
    std::lock_guard lock(mutex_);
    return open_;
  }

 private:
  const ServerLimits& limits_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::unordered_map<std::string, std::size_t> per_client_;
};

// One acquired slot. It moves with the socket when a connection hands its
// socket on (to an event stream, to a lingering close), so the slot is
// released when the socket's last owner is gone, not when the first is.
class ConnectionSlot {
 public:
  ConnectionSlot(ConnectionSlots& slots, std::string address) : slots_(&slots), address_(std::move(address)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : slots_(std::exchange(other.slots_, nullptr)), address_(std::move(other.address_)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (slots_) slots_->release(address_);
  }
  const std::string& address() const { return address_; }

 private:
  ConnectionSlots* slots_;
  std::string address_;
};

}  // namespace flashgate::gateway::http
