#pragma once
// The HTTP API of the contract, as routes over a Store.
#include <string>

#include "domain/ticket.hpp"
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
};

void add_sale_routes(Router& router, ApiContext& api);
void add_order_routes(Router& router, ApiContext& api);
void add_system_routes(Router& router, ApiContext& api);

// The query parameter `name`, percent-decoded; nullopt if absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace flashgate::gateway
