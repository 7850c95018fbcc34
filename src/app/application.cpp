#include "app/application.hpp"

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "app/keys.hpp"
#include "app/backends.hpp"
#include "app/store_gauges.hpp"
#include "domain/secrets.hpp"
#include "gateway/api.hpp"
#include "gateway/http_server.hpp"
#include "gateway/sale_archive.hpp"
#include "worker/archiver.hpp"
#include "worker/outcome_mirror.hpp"
#include "worker/periodic.hpp"
#include "sink/event_delivery.hpp"
#include "sink/http_order_sink.hpp"
#include "worker/windows.hpp"

namespace flashgate::app {
namespace {

// %j: the message as the inside of a JSON string.
class JsonMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const auto escaped = fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            dest.append(std::string_view(escaped));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

void setup_logging(const Config& config) {
  auto logger = spdlog::stdout_logger_mt("flashgate");
  if (config.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('j');
    formatter->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","message":"%j"})");
    logger->set_formatter(std::move(formatter));
  } else
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                                                                      spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Generated secrets are shown once, on stdout, and never logged again.
std::string secret_or_generate(std::string configured, const char* what) {
  if (!configured.empty()) return configured;
  auto generated = domain::random_secret_hex(24);
  fmt::print("{}: {}\n", what, generated);
  std::fflush(stdout);
  return generated;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  for (char c : text + ",") {
    if (c == ',') {
      if (!item.empty()) items.push_back(item);
      item.clear();
    } else if (c != ' ') {
      item += c;
    }
  }
  return items;
}

// Each connection is a descriptor; let the process have as many as it may.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The buyer of an intake: from the body, a bearer token or a trusted proxy's
// header. Throws std::runtime_error (for the operator) on unusable keys.
std::unique_ptr<gateway::BuyerIdentity> buyer_identity(const Config& config) {
  gateway::BuyerIdentitySettings settings;
  settings.verify.issuer = config.jwt_issuer;
  settings.verify.audience = config.jwt_audience;
  settings.verify.user_claim = config.user_claim;
  settings.verify.leeway_s = config.jwt_leeway_ms / 1000;
  settings.user_header = config.user_header;
  settings.trusted_proxies = split_list(config.trust_proxy);
  std::unique_ptr<identity::KeySource> keys;
  if (config.buyer_auth == "jwt" && config.role != "worker") {
    settings.mode = gateway::BuyerAuthMode::jwt;
    identity::KeySourceSettings source;
    source.file = config.jwt_keys;
    source.url = config.jwt_keys_url;
    source.refresh = std::chrono::milliseconds(config.jwt_keys_refresh_ms);
    keys = std::make_unique<identity::KeySource>(source);
  } else if (config.buyer_auth == "header") {
    settings.mode = gateway::BuyerAuthMode::header;
  }
  if (settings.mode != gateway::BuyerAuthMode::none)
    spdlog::info("buyers: {} (the body's user_id is no longer believed)", config.buyer_auth);
  return std::make_unique<gateway::BuyerIdentity>(std::move(settings), std::move(keys));
}

std::size_t cores() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

int serve(Config config) {
  // Signals are taken by sigwait below, so every thread starts with them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // a file size limit is a full disk: fail the write, not the process

  setup_logging(config);
  raise_descriptor_limit();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create the data dir: {}", ec.message());
    return 2;
  }

  const std::string admin_token = secret_or_generate(config.admin_token, "admin token");
  const std::string payment_secret = secret_or_generate(config.payment_secret, "payment secret");
  const domain::TicketCodec tickets(load_ticket_keys(config.ticket_keys, config.data_dir), config.ticket_ttl_ms);

  std::unique_ptr<gateway::BuyerIdentity> buyers;
  try {
    buyers = buyer_identity(config);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  metrics::Registry metrics;
  Backends backends;
  try {
    backends = open_backends(config, metrics);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  store::Store& store = *backends.store;
  auto* redis = backends.redis;
  StoreGauges store_gauges(store, metrics, /*read_at_scrape=*/!redis,
                           redis ? std::function<std::uint64_t()>([redis] { return redis->outcome_backlog(); })
                                 : std::function<std::uint64_t()>());

  const bool gateway_role = config.role != "worker";
  const bool worker_role = config.role != "gateway";

  std::unique_ptr<sink::HttpOrderSink> order_sink;  // outlives the windows that call it
  std::unique_ptr<sink::EventDelivery> event_delivery;
  std::optional<worker::Windows> windows;
  std::optional<worker::ListenedOutcomes> listened_outcomes;
  std::optional<worker::OutcomeMirror> mirror;
  std::optional<worker::Periodic> payment_timeouts, stock_flush, reclaim;
  // Archived sales as this process knows them; archive-now where it runs an archiver.
  std::optional<worker::Archiver> archiver;
  gateway::SaleArchive sale_archive(backends.database, [&archiver](const std::string& sale_id, domain::TimeMs now) {
    if (!archiver) return domain::Result<database::SaleRecord>(domain::Error{
        domain::ErrorCode::unavailable, "this process does not archive (no worker role or no order database)"});
    return archiver->archive_now(sale_id, now);
  });
  sale_archive.load();
  std::optional<worker::Periodic> archiving;  // declared after what it calls, so joined before they go
  store.on_sale_dropped([&sale_archive, &store_gauges](const std::string& sale_id) {
    sale_archive.add(sale_id);
    store_gauges.forget_sale(sale_id);
  });
  const auto archiver_settings = [&] {
    worker::ArchiverSettings settings;
    settings.archive_after_ms = config.archive_after_ms;
    settings.archived = [&sale_archive](const std::string& sale_id) { sale_archive.add(sale_id); };
    if (auto* postgres = backends.postgres) {
      // Outcomes reach PostgreSQL in the background (the outcome mirror):
      // a sale is archived only once every final status is there.
      settings.outcomes_recorded = [postgres](const store::SaleView& view) {
        return postgres->holds_final_orders(view);
      };
      // Workers share the Redis store: one runs the round, and one process
      // (a worker or a gateway's admin call) archives at a time.
      if (redis) {
        settings.leadership = [postgres] { return postgres->hold_archive_lock(); };
        settings.lock_archive = [postgres](std::chrono::milliseconds wait) { return postgres->lock_archive(wait); };
        settings.unlock_archive = [postgres] { postgres->unlock_archive(); };
      }
    }
    return settings;
  };
  const std::size_t window_count = config.windows > 0 ? static_cast<std::size_t>(config.windows) : cores() * 4;
  if (worker_role && backends.database) {
    database::OrderDatabase& database = *backends.database;
    if (backends.remote_database) {
      store::OutcomeLog* outcomes = redis;
      if (!outcomes) {
        listened_outcomes.emplace();
        store.on_change([&listened_outcomes](const store::OrderView& view) { listened_outcomes->changed(view); });
        outcomes = &*listened_outcomes;
      }
      mirror.emplace(*outcomes, database);
    }
    worker::WindowSettings window_settings{window_count, std::chrono::milliseconds(config.service_time_ms),
                                           config.failure_rate};
    if (!config.order_sink.empty()) {
      try {
        order_sink = std::make_unique<sink::HttpOrderSink>(sink::HttpSinkSettings{
            config.order_sink, config.sink_secret, std::chrono::milliseconds(config.sink_timeout_ms), config.sink_ca});
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
      }
      window_settings.order_sink = order_sink.get();
      window_settings.sink_deadline = std::chrono::milliseconds(config.sink_deadline_ms);
      window_settings.breaker_failures = static_cast<int>(config.sink_breaker_failures);
      window_settings.breaker_pause = std::chrono::milliseconds(config.sink_breaker_pause_ms);
    }
    if (backends.event_outbox) {
      sink::EventDeliverySettings settings;
      settings.sink = sink::HttpSinkSettings{config.event_sink, config.sink_secret,
                                             std::chrono::milliseconds(config.sink_timeout_ms), config.sink_ca};
      // Distributed: one worker delivers at a time, the one holding the lock.
      sink::EventDelivery::Leadership leadership;
      if (redis) leadership = [postgres = backends.postgres] { return postgres->hold_delivery_lock(); };
      try {
        event_delivery = std::make_unique<sink::EventDelivery>(*backends.event_outbox, metrics, std::move(settings),
                                                               std::move(leadership));
      } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
      }
    }
    windows.emplace(store, database, metrics, window_settings);
    windows->start();
    const auto sweep = std::chrono::milliseconds(std::clamp<std::int64_t>(config.payment_timeout_ms / 4, 50, 1000));
    payment_timeouts.emplace("fg-pay-timeouts", sweep, [&store, &config] {
      const auto cancelled = store.cancel_unpaid(domain::now_ms() - config.payment_timeout_ms);
      if (cancelled) spdlog::info("payment timeout: {} orders cancelled", cancelled);
    });
    stock_flush.emplace(
        "fg-stock-flush",
        std::chrono::milliseconds(config.stock_flush_ms),
        [&store, &database, recorded = std::set<std::string>()]() mutable {
          for (const auto& sale : store.sales())
            if (!recorded.contains(sale.sale_id) && database.record_sale(sale)) recorded.insert(sale.sale_id);
          auto remaining = store.remaining_by_sale();
          if (remaining.empty() || !database.flush_stock(remaining)) return;
          for (const auto& [sale_id, value] : remaining) store.set_remaining_db(sale_id, value);
        },
        true);
    if (event_delivery) event_delivery->start();
    archiver.emplace(store, database, metrics, archiver_settings());
    // Often enough that a sale leaves within a tenth of the retention after it is due.
    const auto archive_round =
        std::chrono::milliseconds(std::clamp<std::int64_t>(config.archive_after_ms / 10, 100, 60'000));
    archiving.emplace("fg-archiver", archive_round, [&archiver] { archiver->run_round(domain::now_ms()); });
    if (redis) {
      reclaim.emplace("fg-reclaim", redis->reclaim_period(), [redis] {
        if (auto n = redis->reclaim_abandoned()) spdlog::warn("reclaimed {} orders of dead windows", n);
      });
    }
  }
  // A gateway with the order database archives on the admin call (the periodic round is the workers').
  if (!archiver && gateway_role && backends.database) archiver.emplace(store, *backends.database, metrics, archiver_settings());
  if (redis) redis->follow_changes();

  gateway::OrderWatch watch(gateway::WatchLimits{static_cast<std::size_t>(config.max_waiters),
                                                     static_cast<std::size_t>(config.max_streams)}, [&store](const std::string& sale_id, const std::string& order_id,
                                                             auto done) {
    store.get_order(sale_id, order_id, [done = std::move(done)](domain::Result<store::OrderView> view) {
      done(view ? std::optional(view.value()) : std::nullopt);
    });
  });
  store.on_change([&watch](const store::OrderView& view) { watch.changed(view); });
  metrics.gauge("flashgate_long_poll_waiters", "Long polls waiting for a change",
                [&watch] { return static_cast<double>(watch.waiters()); });
  metrics.gauge("flashgate_sse_streams", "Server-sent event streams open",
                [&watch] { return static_cast<double>(watch.streams()); });

  gateway::RateLimiter buyer_limiter(config.buyer_intake_rate, config.buyer_intake_burst,
                                     gateway::RateLimiter::default_max_clients, gateway::RateLimiter::Keys::names);
  gateway::RateLimiter intake_limiter(config.intake_rate, config.intake_burst);
  gateway::RateLimiter poll_limiter(config.poll_rate, config.poll_burst);
  gateway::PollPacer pacer;
  gateway::ApiContext api{store,         tickets,      admin_token, payment_secret,
                          metrics,       watch,        intake_limiter, poll_limiter,
                          pacer,         split_list(config.trust_proxy), *buyers, buyer_limiter,
                          &sale_archive};
  gateway::Router router;
  // A worker serves only its health and metrics; a gateway serves the whole API.
  if (gateway_role) gateway::add_api_routes(router, api);
  else gateway::add_system_routes(router, api);
  gateway::HttpServer server(router, metrics,
                             gateway::ServerLimits{static_cast<std::size_t>(config.body_limit),
                                                   static_cast<std::size_t>(config.effective_header_limit()),
                                                   std::chrono::milliseconds(config.request_timeout_ms),
                                                   std::chrono::milliseconds(config.idle_timeout_ms),
                                                   static_cast<std::size_t>(config.max_url),
                                                   static_cast<std::size_t>(config.max_connections),
                                                   static_cast<std::size_t>(config.max_connections_per_client),
                                                   api.trusted_proxies});
  // The one order of shutdown, whatever ends the process: intake stops, work
  // in flight is finished, the server closes, and last the backends' threads
  // are joined (stop feeds, join, then destroy), so no store listener or
  // callback runs into the objects above once they are destroyed.
  const auto shut_down = [&](bool answers_in_flight) {
    store.stop_intake();
    watch.close_all();  // long polls answer with their current status
    if (backends.sqlite) {
      std::promise<void> drained;
      backends.sqlite->barrier([&drained](bool) { drained.set_value(); });
      drained.get_future().wait();  // intakes in flight get their answer ...
    }
    if (windows) windows->stop();  // ... windows finish what they hold ...
    if (reclaim) reclaim->stop();
    if (archiving) archiving->stop();
    if (payment_timeouts) payment_timeouts->stop();
    if (stock_flush) stock_flush->stop();  // ... and the stock is flushed a last time
    // Intakes waiting for the shop's keys are answered while their sockets exist.
    if (auto* keys = buyers->keys()) keys->stop();
    sale_archive.stop();  // an admin call in progress is answered
    if (answers_in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // answers reach their sockets
    server.stop();
    if (mirror) mirror->stop();
    if (event_delivery) event_delivery->stop();  // what it has not delivered waits in the outbox
    store_gauges.stop();
    backends.close();
  };

  try {
    server.start(config.host(), config.port(), config.threads > 0 ? static_cast<std::size_t>(config.threads) : cores());
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}: {}", config.listen, e.what());
    shut_down(false);
    return 2;
  }
  spdlog::info("flashgate ready: role {}, listening on {}:{}, {} windows, data in {}", config.role, config.host(),
               server.port(), worker_role ? window_count : 0, config.data_dir);

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: shutting down", signal);
  // Bounded: whatever is still running at the deadline is cut off. Nothing is
  // lost by that: every answered intake is already durable.
  std::thread([timeout = config.shutdown_timeout_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout));
    spdlog::warn("shutdown took longer than {} ms; exiting now", timeout);
    std::_Exit(0);
  }).detach();
  shut_down(true);
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace flashgate::app
