// The API's handlers called as functions: an Exchange of the test's own, a
// real MemoryStore over SQLite, no router and no server. Each handler is
// given only its own inputs.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "gateway/handlers.hpp"
#include "../support/in_process_app.hpp"

namespace {

namespace domain = flashgate::domain;
namespace gateway = flashgate::gateway;
using flashgate::gateway::ExchangePtr;
using flashgate::gateway::Request;
using flashgate::gateway::Response;

// Records the one answer a handler gives, from whatever thread gives it.
class RecordedExchange final : public gateway::Exchange {
 public:
  explicit RecordedExchange(Request request) : request_(std::move(request)) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override { answered_.set_value(std::move(response)); }
  void start_stream(Response head) override { answered_.set_value(std::move(head)); }
  void stream_write(std::string) override {}
  void stream_end() override {}
  void on_abort(std::function<void()>) override {}
  void set_route(std::string_view) override {}

  Response answer() {
    auto future = answered_.get_future();
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      throw std::runtime_error("the handler gave no answer");
    return future.get();
  }

 private:
  Request request_;
  std::promise<Response> answered_;
};

Request request(std::string method, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.body = std::move(body);
  r.client_address = "192.0.2.7";
  return r;
}

// Calls `handler` with `r` and waits for its answer.
template <class Handler>
Response call(const Handler& handler, Request r) {
  auto exchange = std::make_shared<RecordedExchange>(std::move(r));
  handler(exchange);
  return exchange->answer();
}

class HandlersTest : public ::testing::Test {
 protected:
  flashgate::testing::InProcessApp app;  // the store, its SQLite journal, the ticket codec, the watch
  const gateway::TrustedProxies no_proxies;
  const gateway::AdminGate admin{flashgate::testing::InProcessApp::admin_token};
  const gateway::ArchivedAnswers archived{};

  Response create_sale(const std::string& sale_id, int stock, std::string authorization) {
    auto r = request("POST", R"({"sale_id":")" + sale_id + R"(","item":"lamp","stock":)" + std::to_string(stock) + "}");
    if (!authorization.empty()) r.headers.emplace_back("authorization", std::move(authorization));
    return call(gateway::CreateSale{admin, app.store, archived}, std::move(r));
  }
  Response get_sale(const std::string& sale_id) {
    auto r = request("GET");
    r.params = {{"sale_id", sale_id}};
    return call(gateway::GetSale{app.store, archived}, std::move(r));
  }
  gateway::Intake intake() {
    return gateway::Intake{app.store, app.tickets, app.buyers, gateway::RateGate{app.intake_limiter, no_proxies},
                           app.buyer_limiter, archived, gateway::IntakeMetrics(app.metrics)};
  }
  Response order(const std::string& sale_id, std::string body) {
    auto r = request("POST", std::move(body));
    r.params = {{"sale_id", sale_id}};
    return call(intake(), std::move(r));
  }
  Response poll(const std::string& query) {
    auto r = request("GET");
    r.query = query;
    return call(gateway::OrderStatus{app.store, app.tickets, gateway::RateGate{app.poll_limiter, no_proxies}, app.pacer,
                                     app.watch, archived},
                std::move(r));
  }
};

std::string header(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

TEST_F(HandlersTest, AnAdminCallWithoutTheTokenIsRefusedAndCreatesNothing) {
  const auto missing = create_sale("s-1", 5, "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(header(missing, "WWW-Authenticate"), "Bearer");
  EXPECT_NE(missing.body.find("unauthorized"), std::string::npos) << missing.body;
  EXPECT_EQ(create_sale("s-1", 5, "Bearer not-the-token").status, 401);
  EXPECT_EQ(create_sale("s-1", 5, std::string("Basic ") + flashgate::testing::InProcessApp::admin_token).status, 401);
  EXPECT_EQ(get_sale("s-1").status, 404);
  EXPECT_EQ(create_sale("s-1", 5, std::string("Bearer ") + flashgate::testing::InProcessApp::admin_token).status, 201);
  EXPECT_EQ(get_sale("s-1").status, 200);
}

TEST_F(HandlersTest, AnIntakeThatFailsValidationIsRefusedCountedAndTakesNoStock) {
  ASSERT_EQ(create_sale("s-2", 3, std::string("Bearer ") + flashgate::testing::InProcessApp::admin_token).status, 201);
  struct Case {
    std::string sale_id, body, says;
  };
  for (const auto& c : {Case{"s-2", R"({"quantity":1})", "user_id"},
                        Case{"s-2", R"({"user_id":"bad id!"})", "user_id must be"},
                        Case{"s-2", R"({"user_id":"u-1","quantity":0})", "invalid_request"},
                        Case{"s-2", R"({"user_id":"u-1","colour":"red"})", "colour"},
                        Case{"s-2", R"({"user_id":)", "invalid_request"},
                        Case{"bad sale!", R"({"user_id":"u-1"})", "sale_id must be"}}) {
    const auto answer = order(c.sale_id, c.body);
    EXPECT_EQ(answer.status, 400) << c.body;
    EXPECT_NE(answer.body.find(c.says), std::string::npos) << c.body << " -> " << answer.body;
  }
  EXPECT_NE(app.metrics.render().find("flashgate_intake_total{outcome=\"invalid_request\"} 6"), std::string::npos);
  const auto sale = get_sale("s-2");
  EXPECT_NE(sale.body.find(R"("remaining":3)"), std::string::npos) << sale.body;
  // The same handler takes a valid one.
  EXPECT_EQ(order("s-2", R"({"user_id":"u-1"})").status, 202);
}

TEST_F(HandlersTest, APollWithAForgedTicketIsRefusedBeforeTheStore) {
  ASSERT_EQ(create_sale("s-3", 3, std::string("Bearer ") + flashgate::testing::InProcessApp::admin_token).status, 201);
  const auto accepted = order("s-3", R"({"user_id":"u-1"})");
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const auto at = accepted.body.find(R"("ticket":")");
  ASSERT_NE(at, std::string::npos) << accepted.body;
  const auto start = at + 10;
  const std::string ticket = accepted.body.substr(start, accepted.body.find('"', start) - start);
  EXPECT_EQ(poll("ticket=" + ticket).status, 200);

  // Sealed with another key for the same order: it opens under no key of ours.
  domain::TicketCodec forger({domain::TicketKey{9, 9, 9}}, 3'600'000);
  const auto claims = app.tickets.open(ticket, domain::now_ms());
  ASSERT_TRUE(claims);
  const auto forged = poll(
      "ticket=" + forger.seal(claims.value().order_id, claims.value().sale_id, "u-1", domain::now_ms()));
  EXPECT_EQ(forged.status, 401);
  EXPECT_NE(forged.body.find("invalid_ticket"), std::string::npos) << forged.body;
  // A ticket with one character changed, and none at all.
  std::string altered = ticket;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(poll("ticket=" + altered).status, 401);
  EXPECT_EQ(poll("wait=1").status, 400);
}

}  // namespace
