#pragma once
// The API's handlers. Each is a small class holding only what it reads and
// answering an Exchange, so a test calls one with an Exchange of its own and
// a real store: no router, no server. routes.cpp lists which route takes
// which. A handler's callbacks refer to it, so it must outlive its answers:
// the router keeps each behind a shared_ptr for as long as it routes.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ticket.hpp"
#include "gateway/buyer_identity.hpp"
#include "gateway/exchange.hpp"
#include "gateway/order_watch.hpp"
#include "gateway/poll_pacer.hpp"
#include "gateway/query.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/sale_archive.hpp"
#include "metrics/registry.hpp"
#include "store/order_desk.hpp"
#include "store/stock_ledger.hpp"

namespace flashgate::gateway {

// ---- What several handlers check first (gates.cpp) ----

// Peers whose X-Forwarded-For is believed.
using TrustedProxies = std::vector<std::string>;

// The address a request is accounted to: the peer, or the client a trusted
// proxy names in X-Forwarded-For.
std::string client_address(const TrustedProxies& proxies, const Request& request);

// A rate per client address: answers 429 with Retry-After itself and returns false.
struct RateGate {
  RateLimiter& limiter;
  const TrustedProxies& proxies;
  bool pass_or_reply(const ExchangePtr& ex) const;
};
// The same for another key than the address (a verified buyer).
bool within_rate_or_reply(RateLimiter& limiter, const ExchangePtr& ex, const std::string& key);

// The admin bearer token: answers 401 itself and returns false.
struct AdminGate {
  std::string_view token;
  bool pass_or_reply(const ExchangePtr& ex) const;
};

// Opens the request's ticket before any store is touched; answers 400/401/410 itself.
std::optional<domain::TicketClaims> ticket_or_reply(const domain::TicketCodec& tickets, const ExchangePtr& ex,
                                                    const QueryParams& query);

// A store's refusal, answered: 410 sale_archived where the sale it is about
// is archived, else the refusal as it is. `archive` null: this process knows
// no archived sale (archive_handlers.cpp).
struct ArchivedAnswers {
  SaleArchive* archive = nullptr;
  // Not found about `sale_id` (sale or order). An archived sale's answer
  // carries its final numbers where the database has them.
  void store_error(const ExchangePtr& ex, const domain::Error& error, const std::string& sale_id) const;
  // A poll's or stream's order_not_found, the sale read from the request's ticket.
  void order_error(const domain::TicketCodec& tickets, const ExchangePtr& ex, const domain::Error& error) const;
  // A payment's order_not_found: the order's sale from the database.
  void payment_error(const ExchangePtr& ex, const domain::Error& error, const std::string& order_id) const;
};

// ---- Sales (sale_handlers.cpp) ----

struct CreateSale {  // POST /api/admin/sales
  AdminGate admin;
  store::OrderDesk& store;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;
};

struct GetSale {  // GET /api/sales/{sale_id}
  store::OrderDesk& store;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;
};

struct SaleStats {  // GET /api/admin/sales/{sale_id}/stats
  AdminGate admin;
  store::OrderDesk& store;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;
};

// ---- Orders (order_handlers.cpp, stream_handlers.cpp) ----

// flashgate_intake_total by outcome and the intake's store time, registered once.
class IntakeMetrics {
 public:
  explicit IntakeMetrics(metrics::Registry& registry);
  void count(std::string_view outcome) const;
  void store_took(double seconds) const { store_seconds_->observe(seconds); }

 private:
  struct Outcomes;
  std::shared_ptr<const Outcomes> outcomes_;
  metrics::Histogram* store_seconds_;
};

struct Intake {  // POST /api/sales/{sale_id}/orders
  store::OrderDesk& store;
  const domain::TicketCodec& tickets;
  const BuyerIdentity& buyers;
  RateGate address_rate;
  RateLimiter& buyer_limiter;  // intakes per verified buyer (jwt and header modes)
  ArchivedAnswers archived;
  IntakeMetrics metrics;
  void operator()(const ExchangePtr& ex) const { handle(ex, true); }

 private:
  // `may_refresh`: a token naming a kid we lack may fetch the keys once.
  void handle(const ExchangePtr& ex, bool may_refresh) const;
  void refuse(const ExchangePtr& ex, domain::ErrorCode code, std::string message) const;
};

struct OrderStatus {  // GET /api/orders/status: poll, paced poll and long poll
  store::OrderDesk& store;
  const domain::TicketCodec& tickets;
  RateGate rate;
  PollPacer& pacer;
  OrderWatch& watch;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;

 private:
  void answer(const ExchangePtr& ex, const store::OrderView& view) const;
  void answer_current(const ExchangePtr& ex, const domain::TicketClaims& claims) const;
  void long_poll(const ExchangePtr& ex, domain::TicketClaims claims, std::chrono::milliseconds wait,
                 std::optional<std::uint64_t> since, bool paced) const;
};

struct OrderEvents {  // GET /api/orders/events: server-sent events
  store::OrderDesk& store;
  const domain::TicketCodec& tickets;
  RateGate rate;
  OrderWatch& watch;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;
};

// ---- Payments and the archive (payment_handlers.cpp, archive_handlers.cpp) ----

struct PaymentNotify {  // POST /api/payments/notify
  std::string_view secret;  // the provider's HMAC key
  store::OrderDesk& store;
  ArchivedAnswers archived;
  void operator()(const ExchangePtr& ex) const;
};

struct ArchiveSale {  // POST /api/admin/sales/{sale_id}/archive
  AdminGate admin;
  SaleArchive* archive;
  void operator()(const ExchangePtr& ex) const;
};

struct ListSales {  // GET /api/admin/sales
  AdminGate admin;
  store::StockLedger& ledger;
  SaleArchive* archive;
  void operator()(const ExchangePtr& ex) const;
};

// ---- The process and the web page (system_handlers.cpp) ----

struct Health {  // GET /healthz
  void operator()(const ExchangePtr& ex) const;
};

struct MetricsPage {  // GET /metrics
  metrics::Registry& metrics;
  void operator()(const ExchangePtr& ex) const;
};

struct AssetPage {  // the demo page, its script, the OpenAPI document
  std::string_view path;
  void operator()(const ExchangePtr& ex) const;
};

}  // namespace flashgate::gateway
