// Router: first matching route wins, literal routes asked for plainly take a
// direct path that must find the same route as the general one.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "gateway/router.hpp"

namespace {

using flashgate::gateway::ExchangePtr;
using flashgate::gateway::Request;
using flashgate::gateway::Response;
using flashgate::gateway::Router;

class RecordingExchange final : public flashgate::gateway::Exchange {
 public:
  RecordingExchange(std::string method, std::string path) {
    request_.method = std::move(method);
    request_.path = std::move(path);
  }
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override { answer = std::move(response); }
  void start_stream(Response head) override { answer = std::move(head); }
  void stream_write(std::string) override {}
  void stream_end() override {}
  void on_abort(std::function<void()>) override {}
  void set_route(std::string_view r) override { route = std::string(r); }

  std::optional<Response> answer;
  std::string route;

 private:
  Request request_;
};

struct Routed {
  std::string handled_by;  // the handler's name, or empty
  std::string route;
  int status = 0;          // set when the router answered itself
  std::string param;       // the route's first variable, if any
  std::string allow;
};

class RouterTest : public ::testing::Test {
 protected:
  void add(const std::string& method, const std::string& pattern, const std::string& name) {
    router_.add(method, pattern, [this, name](const ExchangePtr& ex) {
      last_.handled_by = name;
      if (!ex->request().params.empty()) last_.param = ex->request().params.front().second;
    });
  }
  Routed route(const std::string& method, const std::string& path) {
    last_ = {};
    auto ex = std::make_shared<RecordingExchange>(method, path);
    router_.dispatch(ex);
    last_.route = ex->route;
    if (ex->answer) {
      last_.status = ex->answer->status;
      for (const auto& [name, value] : ex->answer->headers)
        if (name == "Allow") last_.allow = value;
    }
    return last_;
  }

  Router router_;
  Routed last_;
};

TEST_F(RouterTest, LiteralAndVariableRoutes) {
  add("GET", "/api/orders/status", "status");
  add("POST", "/api/sales/{sale_id}/orders", "intake");
  EXPECT_EQ(route("GET", "/api/orders/status").handled_by, "status");
  EXPECT_EQ(route("GET", "/api/orders/status").route, "/api/orders/status");
  const auto intake = route("POST", "/api/sales/s-1/orders");
  EXPECT_EQ(intake.handled_by, "intake");
  EXPECT_EQ(intake.param, "s-1");
  EXPECT_EQ(intake.route, "/api/sales/{sale_id}/orders");
}

TEST_F(RouterTest, AnEncodedPathIsDecodedPerSegment) {
  add("GET", "/api/orders/status", "status");
  add("GET", "/api/sales/{sale_id}", "sale");
  EXPECT_EQ(route("GET", "/api/orders/st%61tus").handled_by, "status");
  const auto sale = route("GET", "/api/sales/a%2Fb");
  EXPECT_EQ(sale.handled_by, "sale");
  EXPECT_EQ(sale.param, "a/b") << "an encoded slash stays inside its segment";
  EXPECT_EQ(route("GET", "/api/sales/%zz").status, 400);
}

TEST_F(RouterTest, AnEarlierRouteOfTheSameShapeWinsOnEveryPath) {
  add("GET", "/api/sales/{sale_id}", "by-id");
  add("GET", "/api/sales/stats", "stats");  // added later: never reached for GET
  add("POST", "/api/sales/stats", "post-stats");
  EXPECT_EQ(route("GET", "/api/sales/stats").handled_by, "by-id");
  EXPECT_EQ(route("GET", "/api/sales/st%61ts").handled_by, "by-id");
  EXPECT_EQ(route("POST", "/api/sales/stats").handled_by, "post-stats");
}

TEST_F(RouterTest, WrongMethodIs405WithAllowAndUnknownPathIs404) {
  add("GET", "/api/orders/status", "status");
  add("POST", "/api/orders/status", "post-status");
  add("GET", "/healthz", "health");
  const auto wrong = route("DELETE", "/api/orders/status");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, POST");
  EXPECT_EQ(route("GET", "/nope").status, 404);
  EXPECT_EQ(route("GET", "/healthz/").status, 404) << "a trailing slash is another path";
  EXPECT_EQ(route("GET", "no-slash").status, 404);
}

TEST_F(RouterTest, HeadIsServedByTheGetRoute) {
  add("GET", "/healthz", "health");
  EXPECT_EQ(route("HEAD", "/healthz").handled_by, "health");
}

}  // namespace
