#pragma once
// The HTTP API of the contract: what the process hands the gateway, and the
// table of routes over it (routes.cpp). The handlers themselves take only
// their part of it (handlers.hpp).
#include <string>
#include <vector>

#include "domain/ticket.hpp"
#include "gateway/buyer_identity.hpp"
#include "gateway/handlers.hpp"
#include "gateway/order_watch.hpp"
#include "gateway/poll_pacer.hpp"
#include "gateway/query.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/router.hpp"
#include "gateway/sale_archive.hpp"
#include "metrics/registry.hpp"
#include "store/order_desk.hpp"
#include "store/stock_ledger.hpp"

namespace flashgate::gateway {

struct ApiContext {
  store::OrderDesk& store;
  store::StockLedger& ledger;  // the admin's list of sales (a blocking read, on the archive's thread)
  const domain::TicketCodec& tickets;
  std::string admin_token;
  std::string payment_secret;
  metrics::Registry& metrics;
  OrderWatch& watch;
  RateLimiter& intake_limiter;
  RateLimiter& poll_limiter;
  PollPacer& pacer;
  TrustedProxies trusted_proxies;  // peers whose X-Forwarded-For is believed
  const BuyerIdentity& buyers;
  RateLimiter& buyer_limiter;  // intakes per verified buyer (jwt and header modes)
  SaleArchive* archive = nullptr;  // archived sales; null: this process knows none
};

// Every route of the API: sales, orders, streams, payments, archive, system, web page.
// The handlers refer to `api`'s parts: it must outlive the router.
void add_api_routes(Router& router, ApiContext& api);
// /healthz and /metrics: all a worker serves.
void add_system_routes(Router& router, ApiContext& api);

}  // namespace flashgate::gateway
