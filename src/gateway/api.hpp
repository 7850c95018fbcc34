#pragma once
// The HTTP API of the contract, as routes over a Store.
#include <boost/container/small_vector.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "domain/ticket.hpp"
#include "gateway/buyer_identity.hpp"
#include "gateway/order_watch.hpp"
#include "gateway/poll_pacer.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/sale_archive.hpp"
#include "gateway/router.hpp"
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
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For is believed
  const BuyerIdentity& buyers;
  RateLimiter& buyer_limiter;  // intakes per verified buyer (jwt and header modes)
  SaleArchive* archive = nullptr;  // archived sales; null: this process knows none
};

// The address a request is accounted to: the peer, or the client a trusted
// proxy names in X-Forwarded-For.
std::string client_address(const ApiContext& api, const Request& request);
// Validate-or-reply: answers 429 with Retry-After itself and returns false.
bool within_rate_or_reply(const ApiContext& api, RateLimiter& limiter, const ExchangePtr& ex);
// The same for another key than the client's address (a verified buyer).
bool within_rate_or_reply(const ApiContext& api, RateLimiter& limiter, const ExchangePtr& ex, const std::string& key);

// Validate-or-reply: answers 401 itself unless the request has the admin bearer token.
bool authorized_or_reply(const ApiContext& api, const ExchangePtr& ex);

// A store's refusal of a request about `sale_id` (not found, order not
// found): 410 sale_archived when that sale is archived, else the refusal.
// Only reached when the store did not have the sale or order.
void respond_store_error(const ApiContext& api, const ExchangePtr& ex, const domain::Error& error,
                         const std::string& sale_id);

// The same for a poll's or stream's order_not_found, the sale read from the request's ticket.
void respond_order_error(const ApiContext& api, const ExchangePtr& ex, const domain::Error& error);
// The same for a payment's order_not_found: the order's sale from the database.
void respond_payment_error(const ApiContext& api, const ExchangePtr& ex, const domain::Error& error,
                           const std::string& order_id);

// Every route of the API: sales, orders, streams, payments, system.
void add_api_routes(Router& router, ApiContext& api);

void add_sale_routes(Router& router, ApiContext& api);
void add_order_routes(Router& router, ApiContext& api);
// /healthz and /metrics: all a worker serves.
void add_system_routes(Router& router, ApiContext& api);
void add_web_routes(Router& router);
void add_stream_routes(Router& router, ApiContext& api);
void add_payment_routes(Router& router, ApiContext& api);
// POST /api/admin/sales/{id}/archive, GET /api/admin/sales
void add_archive_routes(Router& router, ApiContext& api);

// A query's parameters, split once at its '&'s (a handler that asks for
// three of them scans the query once, not three times).
class QueryParams {
 public:
  explicit QueryParams(std::string_view query);
  // The first parameter `name`, percent-decoded; nullopt if absent or if its
  // escapes are broken. A value without escapes (a ticket, a number) is a
  // view into the query, not a copy; one with escapes is decoded into
  // `decoded`, which the view then points into: both must outlive it.
  std::optional<std::string_view> get(std::string_view name, std::string& decoded) const;

 private:
  struct Param {
    std::string_view key;  // raw, as in the query
    std::string_view value;
    bool has_value;  // "key=" has one (empty), "key" has none
    bool key_escaped;
  };
  boost::container::small_vector<Param, 4> params_;
};

// Opens the request's ticket before any store is touched; answers 400/401/410 itself.
std::optional<domain::TicketClaims> ticket_or_reply(const ApiContext& api, const ExchangePtr& ex,
                                                    const QueryParams& query);

}  // namespace flashgate::gateway
