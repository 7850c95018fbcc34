#include "app/gateway_parts.hpp"

namespace flashgate::app {
namespace {

gateway::OrderWatch::Lookup order_lookup(store::OrderDesk& store) {
  return [&store](const std::string& sale_id, const std::string& order_id, auto done) {
    store.get_order(sale_id, order_id, [done = std::move(done)](domain::Result<store::OrderView> view) {
      done(view ? std::optional(view.value()) : std::nullopt);
    });
  };
}

gateway::ServerLimits server_limits(const Config& config) {
  gateway::ServerLimits limits{static_cast<std::size_t>(config.body_limit),
                               static_cast<std::size_t>(config.effective_header_limit()),
                               std::chrono::milliseconds(config.request_timeout_ms),
                               std::chrono::milliseconds(config.idle_timeout_ms),
                               static_cast<std::size_t>(config.max_url),
                               static_cast<std::size_t>(config.max_connections),
                               static_cast<std::size_t>(config.max_connections_per_client),
                               split_list(config.trust_proxy)};
  // The server's wait for answers owed at the stop takes at most half the
  // shutdown's bound: the parts stopped after it (the outcome mirror, the
  // backends) keep the rest.
  limits.drain_timeout = std::chrono::milliseconds(config.shutdown_timeout_ms / 2);
  return limits;
}

}  // namespace

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  for (char c : text + ",") {
    if (c == ',') {
      if (!item.empty()) items.push_back(item);
      item.clear();
    } else if (c != ' ') {
      item += c;
    }
  }
  return items;
}

GatewayParts::GatewayParts(const Config& config, store::Store& store, const domain::TicketCodec& tickets,
                           metrics::Registry& metrics, const gateway::BuyerIdentity& buyers,
                           gateway::SaleArchive& sale_archive)
    : watch(gateway::WatchLimits{static_cast<std::size_t>(config.max_waiters),
                                 static_cast<std::size_t>(config.max_streams)},
            order_lookup(store)),
      buyer_limiter(config.buyer_intake_rate, config.buyer_intake_burst, gateway::RateLimiter::default_max_clients,
                    gateway::RateLimiter::Keys::names),
      intake_limiter(config.intake_rate, config.intake_burst),
      poll_limiter(config.poll_rate, config.poll_burst),
      api{store,   store,  tickets,        config.admin_token, config.payment_secret,
          metrics, watch,  intake_limiter, poll_limiter,       pacer,
          split_list(config.trust_proxy), buyers, buyer_limiter, &sale_archive},
      server(router, metrics, server_limits(config)) {
  store.on_change([this](const store::OrderView& view) { watch.changed(view); });
  metrics.gauge("flashgate_long_poll_waiters", "Long polls waiting for a change",
                [this] { return static_cast<double>(watch.waiters()); });
  metrics.gauge("flashgate_sse_streams", "Server-sent event streams open",
                [this] { return static_cast<double>(watch.streams()); });
  // A worker serves only its health and metrics; a gateway serves the whole API.
  if (config.role != "worker") gateway::add_api_routes(router, api);
  else gateway::add_system_routes(router, api);
}

}  // namespace flashgate::app
