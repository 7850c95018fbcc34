#include "app/redis_store_options.hpp"

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>

#include "store/redis/cluster/endpoint.hpp"

namespace flashgate::app {

store::redis::RedisStoreOptions redis_store_options(const Config& config) {
  constexpr std::string_view single = "redis://", cluster = "redis-cluster://";
  std::string_view rest(config.store);
  const bool clustered = rest.substr(0, cluster.size()) == cluster;
  if (!clustered && rest.substr(0, single.size()) != single)
    throw std::runtime_error("store must be memory, redis://HOST:PORT or redis-cluster://HOST:PORT[,HOST:PORT...]");
  rest.remove_prefix(clustered ? cluster.size() : single.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  store::redis::RedisStoreOptions options;
  if (clustered) {
    // The seeds: any nodes of the cluster; the rest is learnt from them.
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto node = rest.substr(0, comma);
      const auto seed = store::redis::cluster::parse_endpoint(node);
      if (!seed || seed->host.empty())
        throw std::runtime_error("store: redis-cluster:// has a bad node '" + std::string(node) +
                                 "' (HOST:PORT[,HOST:PORT...])");
      options.cluster_seeds.push_back(*seed);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (options.cluster_seeds.empty())
      throw std::runtime_error("store: redis-cluster:// names no node (HOST:PORT[,HOST:PORT...])");
  } else {
    const auto colon = rest.rfind(':');
    options.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      unsigned port = 0;
      const auto text = rest.substr(colon + 1);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
      if (ec != std::errc{} || end != text.data() + text.size() || port == 0 || port > 65535)
        throw std::runtime_error("store: redis://HOST:PORT has a bad port");
      options.port = static_cast<std::uint16_t>(port);
    }
    if (options.host.empty()) options.host = "127.0.0.1";
  }
  options.reclaim_after = std::chrono::milliseconds(config.reclaim_after_ms);
  options.near_cache_orders = static_cast<std::size_t>(config.near_cache_orders);
  if (config.redis_wait_replicas >= 0) options.wait_replicas = static_cast<int>(config.redis_wait_replicas);
  options.wait_timeout = std::chrono::milliseconds(config.redis_wait_timeout_ms);
  return options;
}

}  // namespace flashgate::app
