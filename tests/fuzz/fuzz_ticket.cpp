// Any text offered as a ticket: opened without a crash, and never accepted
// unless it is a ticket this key sealed.
#include <cstdlib>

#include "domain/ticket.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const flashgate::domain::TicketCodec codec({flashgate::domain::TicketKey{7}}, 3'600'000);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto claims = codec.open(text, 0);
  if (claims && text.size() < 40) std::abort();  // shorter than nonce + tag: cannot be authentic
  // And what we seal from fuzzed claims must open to the same claims.
  flashgate::domain::TicketClaims made{std::string(text.substr(0, 64)), "sale", "user", 5};
  auto reopened = codec.open(codec.seal(made), 5);
  if (!reopened || reopened->order_id != made.order_id) std::abort();
  return 0;
}
