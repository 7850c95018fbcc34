#pragma once
// Which of Redis Cluster's 16384 hash slots a key lives in, by the cluster
// specification: CRC16 (XMODEM) of the key modulo 16384, where a key holding a
// non-empty "{...}" hashes only what is between its first '{' and the first
// '}' after it. Pure code; the slot map and the connection route by it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace flashgate::store::redis::cluster {

inline constexpr std::uint16_t slot_count = 16384;

// CRC-16/XMODEM: polynomial 0x1021, initial 0, no reflection, no final xor.
std::uint16_t crc16_xmodem(std::string_view data);

// The part of the key that is hashed: the hash tag if the key has a
// non-empty one, else the whole key.
std::string_view hashed_part(std::string_view key);

std::uint16_t key_slot(std::string_view key);

// Every key of one command or script must be in one slot, or the cluster
// refuses it (CROSSSLOT). Says which slot, or where the keys part.
struct CommonSlot {
  enum class Kind { no_keys, same, crossing };
  Kind kind = Kind::no_keys;
  std::uint16_t slot = 0;           // same: the slot; crossing: the first key's
  std::size_t crossing_key = 0;     // crossing: index of the first key in another slot
  std::uint16_t crossing_slot = 0;  // crossing: that key's slot
};

CommonSlot common_slot(std::span<const std::string> keys);

// Why a script over `keys` has no slot to run in (no keys, or keys crossing
// slots as `where` says), in the words of the error reply the clients give.
std::string script_slot_refusal(const CommonSlot& where, std::span<const std::string> keys);

}  // namespace flashgate::store::redis::cluster
