// Which route takes which handler: the one table of the API.
#include <memory>

#include "gateway/api.hpp"

namespace flashgate::gateway {

namespace {

// Handlers' callbacks refer to the handler: it is kept where it will not move.
template <class H>
Handler kept(H handler) {
  return [h = std::make_shared<const H>(std::move(handler))](const ExchangePtr& ex) { (*h)(ex); };
}

struct Route {
  const char* method;
  const char* pattern;
  Handler handler;
};

void add_all(Router& router, std::initializer_list<Route> routes) {
  for (const auto& route : routes) router.add(route.method, route.pattern, route.handler);
}

}  // namespace

void add_api_routes(Router& router, ApiContext& api) {
  auto& store = api.store;
  const auto& tickets = api.tickets;
  const AdminGate admin{api.admin_token};
  const ArchivedAnswers archived{api.archive};
  const RateGate poll_rate{api.poll_limiter, api.trusted_proxies};
  add_all(router, {
    {"POST", "/api/admin/sales", kept(CreateSale{admin, store, archived})},
    {"GET", "/api/sales/{sale_id}", kept(GetSale{store, archived})},
    {"GET", "/api/admin/sales/{sale_id}/stats", kept(SaleStats{admin, store, archived})},
    {"POST", "/api/sales/{sale_id}/orders",
     kept(Intake{store, tickets, api.buyers, RateGate{api.intake_limiter, api.trusted_proxies}, api.buyer_limiter,
                 archived, IntakeMetrics(api.metrics)})},
    {"GET", "/api/orders/status", kept(OrderStatus{store, tickets, poll_rate, api.pacer, api.watch, archived})},
    {"GET", "/api/orders/events", kept(OrderEvents{store, tickets, poll_rate, api.watch, archived})},
    {"POST", "/api/payments/notify", kept(PaymentNotify{api.payment_secret, store, archived})},
    {"POST", "/api/admin/sales/{sale_id}/archive", kept(ArchiveSale{admin, api.archive})},
    {"GET", "/api/admin/sales", kept(ListSales{admin, api.ledger, api.archive})},
    {"GET", "/", kept(AssetPage{"/index.html"})},
    {"GET", "/openapi.yaml", kept(AssetPage{"/openapi.yaml"})},
    {"GET", "/flashgate-client.js", kept(AssetPage{"/flashgate-client.js"})},
  });
  add_system_routes(router, api);
}

void add_system_routes(Router& router, ApiContext& api) {
  add_all(router, {
    {"GET", "/healthz", Health{}},
    {"GET", "/metrics", kept(MetricsPage{api.metrics})},
  });
}

}  // namespace flashgate::gateway
