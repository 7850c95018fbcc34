#include "store/redis/cluster/key_slot.hpp"

#include <array>

namespace flashgate::store::redis::cluster {

namespace {

constexpr std::array<std::uint16_t, 256> crc16_table = [] {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[byte] = crc;
  }
  return table;
}();

}  // namespace

std::uint16_t crc16_xmodem(std::string_view data) {
  std::uint16_t crc = 0;
  for (const char c : data)
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xff]);
  return crc;
}

std::string_view hashed_part(std::string_view key) {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  // "{}" (nothing between) does not count as a tag, and no later pair is looked for.
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint16_t key_slot(std::string_view key) {
  // 16384 is a power of two: the modulo keeps the low 14 bits.
  return crc16_xmodem(hashed_part(key)) & (slot_count - 1);
}

CommonSlot common_slot(std::span<const std::string> keys) {
  CommonSlot result;
  if (keys.empty()) return result;
  result.kind = CommonSlot::Kind::same;
  result.slot = key_slot(keys.front());
  for (std::size_t i = 1; i < keys.size(); ++i) {
    const auto slot = key_slot(keys[i]);
    if (slot != result.slot) {
      result.kind = CommonSlot::Kind::crossing;
      result.crossing_key = i;
      result.crossing_slot = slot;
      break;
    }
  }
  return result;
}

std::string script_slot_refusal(const CommonSlot& where, std::span<const std::string> keys) {
  if (where.kind == CommonSlot::Kind::no_keys) return "ERR a script without keys has no slot to run in";
  return "CROSSSLOT keys of one script in different slots: '" + keys.front() + "' (slot " +
         std::to_string(where.slot) + ") and '" + keys[where.crossing_key] + "' (slot " +
         std::to_string(where.crossing_slot) + ")";
}

}  // namespace flashgate::store::redis::cluster
