#pragma once
// The HTTP side of a process: the watch of long polls and event streams, the
// rate limits, the routes of its role and the server. A worker serves only
// its health and metrics; a gateway the whole API. Made here, run by the
// process's Lifecycle (app/process.cpp).
#include "app/config.hpp"
#include "domain/ticket.hpp"
#include "gateway/api.hpp"
#include "gateway/buyer_identity.hpp"
#include "gateway/http_server.hpp"
#include "gateway/order_watch.hpp"
#include "gateway/poll_pacer.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/router.hpp"
#include "gateway/sale_archive.hpp"
#include "metrics/registry.hpp"
#include "store/store.hpp"

namespace flashgate::app {

struct GatewayParts {
  GatewayParts(const Config& config, store::Store& store, const domain::TicketCodec& tickets,
               metrics::Registry& metrics, const gateway::BuyerIdentity& buyers, gateway::SaleArchive& sale_archive);
  GatewayParts(const GatewayParts&) = delete;
  GatewayParts& operator=(const GatewayParts&) = delete;

  gateway::OrderWatch watch;
  gateway::RateLimiter buyer_limiter;
  gateway::RateLimiter intake_limiter;
  gateway::RateLimiter poll_limiter;
  gateway::PollPacer pacer;
  gateway::ApiContext api;
  gateway::Router router;
  gateway::HttpServer server;
};

// "a, b" -> {"a", "b"}: the list settings (trusted proxies).
std::vector<std::string> split_list(const std::string& text);

}  // namespace flashgate::app
