#pragma once
// Redis stores on the suite's real redis-server, for the tests that run
// several of them (a gateway's, workers') against one server.
#include <gtest/gtest.h>

#include <cstdint>
#include <future>
#include <optional>
#include <string>

#include "domain/sale.hpp"
#include "redis_server_fixture.hpp"
#include "store/redis/redis_store.hpp"

namespace flashgate::testing {

class RedisStoreTest : public RedisAdminTest {
 protected:
  // A process's store options: the suite's server, consumer names of its own.
  static store::redis::RedisStoreOptions store_options(const std::string& name) {
    store::redis::RedisStoreOptions o;
    o.port = port_;
    o.consumer_prefix = key(name);
    return o;
  }

  static void create_sale(store::redis::RedisStore& store, const std::string& sale_id, std::int64_t stock = 100) {
    std::promise<void> created;
    store.create_sale(domain::Sale{sale_id, "item", stock, std::nullopt, std::nullopt, 1000}, [&](auto result) {
      EXPECT_TRUE(result) << result.error().message;
      created.set_value();
    });
    created.get_future().wait();
  }

  // The accepted order's id ("" if refused, which fails the test).
  static std::string intake(store::redis::RedisStore& store, const std::string& sale_id, const std::string& user) {
    std::promise<std::string> accepted;
    store.intake(sale_id, user, [&](auto result) {
      EXPECT_TRUE(result) << result.error().message;
      accepted.set_value(result ? result.value().view.order.order_id : "");
    });
    return accepted.get_future().get();
  }
};

}  // namespace flashgate::testing
