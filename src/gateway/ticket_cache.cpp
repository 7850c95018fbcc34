#include "gateway/ticket_cache.hpp"

#include <functional>

namespace flashgate::gateway {

TicketCache::TicketCache(const domain::TicketCodec& codec, std::size_t slots) : codec_(codec), slots_(slots) {}

domain::Result<domain::TicketClaims> TicketCache::open(std::string_view ticket, domain::TimeMs now) {
  const std::size_t index = std::hash<std::string_view>{}(ticket) % slots_.size();
  auto& lock = locks_[index % lock_count];
  {
    std::lock_guard guard(lock.mutex);
    const Slot& slot = slots_[index];
    if (!slot.ticket.empty() && slot.ticket == ticket) {
      if (now - slot.claims.issued_at > codec_.ttl_ms())
        return domain::Error{domain::ErrorCode::ticket_expired, "the ticket has expired"};
      return slot.claims;
    }
  }
  auto opened = codec_.open(ticket, now);
  if (opened) {
    std::lock_guard guard(lock.mutex);
    Slot& slot = slots_[index];
    slot.ticket.assign(ticket);
    slot.claims = opened.value();
  }
  return opened;
}

}  // namespace flashgate::gateway
