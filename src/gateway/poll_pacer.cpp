#include "gateway/poll_pacer.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <new>

namespace flashgate::gateway {

namespace {

std::uint64_t key_of(std::string_view order_id) {
  const std::uint64_t hash = std::hash<std::string_view>{}(order_id);
  return hash == 0 ? 1 : hash;  // 0 marks an empty slot
}

}  // namespace

void PollPacer::FreeSlots::operator()(Slot* slots) const { std::free(slots); }

PollPacer::PollPacer() : slots_(static_cast<Slot*>(std::calloc(slot_count, sizeof(Slot)))) {
  if (!slots_) throw std::bad_alloc();
}

std::int64_t PollPacer::hold_ms(std::string_view order_id, domain::TimeMs now) {
  const auto key = key_of(order_id);
  const std::size_t index = key % slot_count;
  std::lock_guard lock(locks_[index % lock_count].mutex);
  const Slot& slot = slots_[index];
  if (slot.key != key) return 0;
  const auto earliest = slot.at + slot.hint_ms / 2;
  return std::clamp<std::int64_t>(earliest - now, 0, max_hold_ms);
}

void PollPacer::answered(std::string_view order_id, domain::TimeMs now, std::int64_t poll_after_ms) {
  const auto key = key_of(order_id);
  const std::size_t index = key % slot_count;
  std::lock_guard lock(locks_[index % lock_count].mutex);
  slots_[index] = Slot{key, now, poll_after_ms};
}

}  // namespace flashgate::gateway
