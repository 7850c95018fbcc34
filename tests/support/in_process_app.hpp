#pragma once
// The whole API over the embedded store, in process and without a socket:
// SQLite in a fresh temp dir, one window, a known admin token and secret.
// Shared by the fuzzers and the unit tests that feed raw bytes.
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "database/sqlite/sqlite_database.hpp"
#include "gateway/api.hpp"
#include "gateway/serve_bytes.hpp"
#include "metrics/registry.hpp"
#include "store/memory/memory_store.hpp"
#include "worker/windows.hpp"

namespace flashgate::testing {

struct InProcessApp {
  static constexpr const char* admin_token = "test-admin-token";
  static constexpr const char* payment_secret = "test-payment-secret";

  std::filesystem::path dir = make_dir();
  database::SqliteDatabase database{dir / "flashgate.db"};
  store::MemoryStore store{database};
  metrics::Registry metrics;
  domain::TicketCodec tickets{{domain::TicketKey{1, 2, 3}}, 3'600'000};
  gateway::OrderWatch watch{gateway::WatchLimits{}, [this](const std::string& sale, const std::string& order,
                                                           auto done) {
                              store.get_order(sale, order, [done](domain::Result<store::OrderView> v) {
                                done(v ? std::optional(v.value()) : std::nullopt);
                              });
                            }};
  gateway::RateLimiter intake_limiter{0, 1};
  gateway::RateLimiter poll_limiter{0, 1};
  gateway::PollPacer pacer;
  gateway::BuyerIdentity buyers{gateway::BuyerIdentitySettings{}, nullptr};  // none: the body's user_id
  gateway::RateLimiter buyer_limiter{0, 1};
  gateway::ApiContext api{store,          store,        tickets, admin_token, payment_secret, metrics, watch,
                          intake_limiter, poll_limiter, pacer,   {},          buyers,         buyer_limiter};
  gateway::Router router;
  worker::Windows windows{store, store, database, metrics,
                          worker::WindowSettings{1, std::chrono::milliseconds(0), 0.0}};
  gateway::ServerLimits limits;

  InProcessApp() {
    store.on_change([this](const store::OrderView& view) { watch.changed(view); });
    gateway::add_api_routes(router, api);
    windows.start();
  }
  ~InProcessApp() {
    windows.stop();
    database.close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  InProcessApp(const InProcessApp&) = delete;
  InProcessApp& operator=(const InProcessApp&) = delete;

  std::string serve(std::string_view bytes, std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    return gateway::serve_bytes(router, bytes, limits, wait);
  }

 private:
  static std::filesystem::path make_dir() {
    std::random_device random;
    auto dir = std::filesystem::temp_directory_path() / ("flashgate-inproc-" + std::to_string(random()));
    std::filesystem::create_directories(dir);
    return dir;
  }
};

}  // namespace flashgate::testing
