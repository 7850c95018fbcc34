#pragma once
// The two error replies by which a cluster node sends a command elsewhere:
//   MOVED <slot> <host>:<port>  the slot lives there now: update the map, resend
//   ASK <slot> <host>:<port>    the slot is being migrated and this key has
//                               left: send ASKING then the command there, once,
//                               and keep the map as it is
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

}  // namespace flashgate::store::redis::cluster
