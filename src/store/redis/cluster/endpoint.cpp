#include "store/redis/cluster/endpoint.hpp"

#include <charconv>

namespace flashgate::store::redis::cluster {

std::string Endpoint::to_string() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<Endpoint> parse_endpoint(std::string_view host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_port(host_port.substr(colon + 1));
  if (!port) return std::nullopt;
  auto host = host_port.substr(0, colon);
  if (host.starts_with('[') != host.ends_with(']')) return std::nullopt;
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  if (host.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
  return Endpoint{std::string(host), *port};
}

}  // namespace flashgate::store::redis::cluster
