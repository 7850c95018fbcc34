#pragma once
// Where a cluster node listens, as the cluster names it: an IPv4 or IPv6
// address or a hostname, and a port.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flashgate::store::redis::cluster {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;

  auto operator<=>(const Endpoint&) const = default;
  // "127.0.0.1:7000", "[::1]:7000", "node-a.example:7000"
  std::string to_string() const;
};

// "HOST:PORT", split at the last ':' so that "::1:7000" (how Redis writes an
// IPv6 node) and "[::1]:7000" both work. An empty host is kept empty: Redis
// sends ":7000" for a node whose address it does not know, meaning the host
// the client already talks to.
std::optional<Endpoint> parse_endpoint(std::string_view host_port);

std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace flashgate::store::redis::cluster
