#pragma once
// A ticket proves, without any store look-up, which order and user it belongs
// to and when it was issued: XChaCha20-Poly1305 over a compact payload, the
// key id as associated data, base64url without padding.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/errors.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

using TicketKey = std::array<unsigned char, 32>;

struct TicketClaims {
  std::string order_id;
  std::string sale_id;
  std::string user_id;
  TimeMs issued_at = 0;
};

class TicketCodec {
 public:
  // keys: newest first; the newest issues, all of them open.
  // remember_opened: each thread keeps the claims of the tickets it opened
  // lately (up to memo_entries_per_thread) with their whole text, so that a
  // client asking again with the same ticket costs a comparison instead of
  // a decryption. Only tickets that opened are remembered, and only the
  // same text finds one: a forged or altered one always meets the decryption.
  TicketCodec(std::vector<TicketKey> keys, std::int64_t ttl_ms, bool remember_opened = true);

  // Ids of at most 255 bytes each (they are at most 64); longer ones are a
  // bug and throw std::invalid_argument.
  std::string seal(const TicketClaims& claims) const;
  // The same from views: an intake seals the fields of its order as they are.
  std::string seal(std::string_view order_id, std::string_view sale_id, std::string_view user_id,
                   TimeMs issued_at) const;
  // invalid_ticket for anything malformed, tampered or under an unknown key;
  // ticket_expired once older than the TTL.
  Result<TicketClaims> open(std::string_view ticket, TimeMs now) const;

  std::int64_t ttl_ms() const { return ttl_ms_; }

  static constexpr std::size_t max_ticket_length = 512;
  static constexpr std::size_t memo_entries_per_thread = 16384;

 private:
  struct Entry {
    TicketKey key;
    std::array<unsigned char, 4> id;
  };
  Result<TicketClaims> decrypt(std::string_view ticket) const;
  Result<TicketClaims> check_age(TicketClaims claims, TimeMs now) const;

  std::vector<Entry> keys_;
  std::int64_t ttl_ms_;
  bool remember_opened_;
  std::uint64_t serial_;  // tells this codec's remembered tickets from another's
};

// Parses "hex64,hex64,..." (newest first). Empty on any malformed key.
std::vector<TicketKey> parse_ticket_keys(std::string_view text);
std::string to_hex(const TicketKey& key);
TicketKey random_ticket_key();

}  // namespace flashgate::domain
