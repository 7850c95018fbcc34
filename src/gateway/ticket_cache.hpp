#pragma once
// Tickets this gateway has already opened, so that a client polling with the
// same ticket again costs a look-up instead of a decryption (about a
// microsecond, the largest single cost of a poll answered from memory).
// Only tickets that opened are kept, keyed by their whole text, so a forged
// or altered ticket never matches one; the expiry is checked on every use,
// exactly as the codec checks it. A direct-mapped table: a newer ticket
// takes an older one's slot, which then just opens the slow way again.
#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "domain/errors.hpp"
#include "domain/ticket.hpp"

namespace flashgate::gateway {

class TicketCache {
 public:
  explicit TicketCache(const domain::TicketCodec& codec, std::size_t slots = std::size_t{1} << 16);

  // As TicketCodec::open.
  domain::Result<domain::TicketClaims> open(std::string_view ticket, domain::TimeMs now);

 private:
  struct Slot {
    std::string ticket;  // empty: unused
    domain::TicketClaims claims;
  };
  static constexpr std::size_t lock_count = 64;
  struct alignas(64) Lock {
    std::mutex mutex;
  };

  const domain::TicketCodec& codec_;
  std::vector<Slot> slots_;
  std::array<Lock, lock_count> locks_;
};

}  // namespace flashgate::gateway
