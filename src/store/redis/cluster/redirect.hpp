#pragma once
// The two error replies by which a cluster node sends a command elsewhere:
//   MOVED <slot> <host>:<port>  the slot lives there now: update the map, resend
//   ASK <slot> <host>:<port>    the slot is being migrated and this key has
//                               left: send ASKING then the command there, once,
//                               and keep the map as it is
// and the one by which it says to send it again later:
//   TRYAGAIN ...                the slot is being migrated and the command's keys
//                               are split between the two nodes (or a script's
//                               check found one of its keys on the other node):
//                               nothing ran; the client sends it again after a pause
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "store/redis/cluster/endpoint.hpp"

namespace flashgate::store::redis::cluster {

struct Redirect {
  enum class Kind { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  Endpoint target;
};

// The error text of a reply (without the leading '-'); nullopt for any other
// error. A target without a host (":7001") is on `replying_host`, the host of
// the node that answered.
std::optional<Redirect> parse_redirect(std::string_view error, std::string_view replying_host);

bool is_try_again(std::string_view error);

// How long a client keeps sending a TRYAGAIN command again: a slot's keys
// move in batches, most slots within a second; past it the caller gets the
// TRYAGAIN (and answers "unavailable, try again shortly").
inline constexpr std::chrono::milliseconds try_again_for{3'000};
// The pause before the next send: 5 ms after the first TRYAGAIN, doubling to at most 100 ms.
std::chrono::milliseconds next_try_again_pause(std::chrono::milliseconds previous);

}  // namespace flashgate::store::redis::cluster
