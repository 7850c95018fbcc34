#pragma once
// The HTTP API of the contract, as routes over a Store.
#include <string>

#include "domain/ticket.hpp"
#include "gateway/order_watch.hpp"
#include "gateway/router.hpp"
#include "metrics/registry.hpp"
#include "store/store.hpp"

namespace flashgate::gateway {

struct ApiContext {
  store::Store& store;
  const domain::TicketCodec& tickets;
  std::string admin_token;
  std::string payment_secret;
  metrics::Registry& metrics;
  OrderWatch& watch;
};

void add_sale_routes(Router& router, ApiContext& api);
void add_order_routes(Router& router, ApiContext& api);
void add_system_routes(Router& router, ApiContext& api);
void add_stream_routes(Router& router, ApiContext& api);
void add_payment_routes(Router& router, ApiContext& api);

// Opens the request's ticket before any store is touched; answers 400/401/410 itself.
std::optional<domain::TicketClaims> ticket_or_reply(const ApiContext& api, const ExchangePtr& ex);

// The query parameter `name`, percent-decoded; nullopt if absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace flashgate::gateway
