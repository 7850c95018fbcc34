#include "app/config.hpp"

#include <charconv>
#include <cstdlib>
#include <toml++/toml.h>

#include "domain/time.hpp"

namespace flashgate::app {
namespace {

using Apply = std::function<std::optional<std::string>(Config&, std::string_view)>;

Apply text(std::string Config::*field) {
  return [field](Config& c, std::string_view v) -> std::optional<std::string> {
    c.*field = std::string(v);
    return std::nullopt;
  };
}

Apply one_of(std::string Config::*field, std::vector<std::string> choices) {
  return [field, choices](Config& c, std::string_view v) -> std::optional<std::string> {
    for (const auto& choice : choices)
      if (choice == v) {
        c.*field = std::string(v);
        return std::nullopt;
      }
    return "must be one of the documented values";
  };
}

Apply duration(std::int64_t Config::*field) {
  return [field](Config& c, std::string_view v) -> std::optional<std::string> {
    auto ms = domain::parse_duration_ms(v);
    if (!ms) return "must be a duration such as 250ms, 2s, 15m or 1h";
    c.*field = *ms;
    return std::nullopt;
  };
}

Apply integer(std::int64_t Config::*field, std::int64_t min, std::int64_t max) {
  return [field, min, max](Config& c, std::string_view v) -> std::optional<std::string> {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < min || n > max)
      return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    c.*field = n;
    return std::nullopt;
  };
}

Apply number(double Config::*field, double min, double max) {
  return [field, min, max](Config& c, std::string_view v) -> std::optional<std::string> {
    char* end = nullptr;
    const std::string s(v);
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !(d >= min && d <= max))
      return "must be a number from " + std::to_string(min) + " to " + std::to_string(max);
    c.*field = d;
    return std::nullopt;
  };
}

template <class T>
std::function<std::string(const Config&)> show(T Config::*field) {
  return [field](const Config& c) {
    if constexpr (std::is_same_v<T, std::string>) return c.*field;
    else return std::to_string(c.*field);
  };
}

std::function<std::string(const Config&)> show_ms(std::int64_t Config::*field) {
  return [field](const Config& c) { return std::to_string(c.*field) + "ms"; };
}

std::function<std::string(const Config&)> secret(std::string Config::*field) {
  return [field](const Config& c) { return (c.*field).empty() ? std::string() : std::string("(set)"); };
}

std::optional<std::string> toml_text(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
  if (node.is_floating_point()) return std::to_string(*node.value<double>());
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  return std::nullopt;
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"listen", "FLASHGATE_LISTEN", "address and port to serve HTTP on", text(&Config::listen), show(&Config::listen)},
      {"data_dir", "FLASHGATE_DATA_DIR", "where SQLite, keys and logs live", text(&Config::data_dir),
       show(&Config::data_dir)},
      {"store", "FLASHGATE_STORE", "memory, or redis://HOST:PORT", text(&Config::store), show(&Config::store)},
      {"database", "FLASHGATE_DATABASE", "sqlite:PATH or postgresql://... (default sqlite:<data dir>/flashgate.db)",
       text(&Config::database), show(&Config::database)},
      {"role", "FLASHGATE_ROLE", "all, gateway or worker", one_of(&Config::role, {"all", "gateway", "worker"}),
       show(&Config::role)},
      {"admin_token", "FLASHGATE_ADMIN_TOKEN", "bearer token of the admin API (generated if unset)",
       text(&Config::admin_token), secret(&Config::admin_token)},
      {"payment_secret", "FLASHGATE_PAYMENT_SECRET", "HMAC key of X-Signature (generated if unset)",
       text(&Config::payment_secret), secret(&Config::payment_secret)},
      {"ticket_keys", "FLASHGATE_TICKET_KEYS", "comma-separated 32-byte hex keys, newest first",
       text(&Config::ticket_keys), secret(&Config::ticket_keys)},
      {"ticket_ttl", "FLASHGATE_TICKET_TTL", "ticket lifetime", duration(&Config::ticket_ttl_ms),
       show_ms(&Config::ticket_ttl_ms)},
      {"payment_timeout", "FLASHGATE_PAYMENT_TIMEOUT", "time to pay before CANCELLED",
       duration(&Config::payment_timeout_ms), show_ms(&Config::payment_timeout_ms)},
      {"service_time", "FLASHGATE_SERVICE_TIME", "simulated downstream latency per order",
       duration(&Config::service_time_ms), show_ms(&Config::service_time_ms)},
      {"windows", "FLASHGATE_WINDOWS", "orders created at once (0: cores x 4)",
       integer(&Config::windows, 0, 4096), show(&Config::windows)},
      {"threads", "FLASHGATE_THREADS", "HTTP threads (0: one per core)", integer(&Config::threads, 0, 256),
       show(&Config::threads)},
      {"failure_rate", "FLASHGATE_FAILURE_RATE", "share of orders the simulated downstream refuses (0..1)",
       number(&Config::failure_rate, 0, 1), show(&Config::failure_rate)},
      {"stock_flush", "FLASHGATE_STOCK_FLUSH", "interval of the stock flush to the database",
       duration(&Config::stock_flush_ms), show_ms(&Config::stock_flush_ms)},
      {"reclaim_after", "FLASHGATE_RECLAIM_AFTER",
       "distributed: an order claimed this long ago by a silent worker is handed to another (above the service time)",
       duration(&Config::reclaim_after_ms), show_ms(&Config::reclaim_after_ms)},
      {"near_cache", "FLASHGATE_NEAR_CACHE", "distributed: status objects a gateway keeps in memory",
       integer(&Config::near_cache_orders, 0, 100'000'000), show(&Config::near_cache_orders)},
      {"db_pool", "FLASHGATE_DB_POOL", "PostgreSQL connections per process", integer(&Config::db_pool, 1, 1000),
       show(&Config::db_pool)},
      {"max_waiters", "FLASHGATE_MAX_WAITERS", "long polls held open at once; past it 429",
       integer(&Config::max_waiters, 0, 10'000'000), show(&Config::max_waiters)},
      {"max_streams", "FLASHGATE_MAX_STREAMS", "event streams held open at once; past it 429",
       integer(&Config::max_streams, 0, 10'000'000), show(&Config::max_streams)},
      {"shutdown_timeout", "FLASHGATE_SHUTDOWN_TIMEOUT", "bound on a graceful shutdown",
       duration(&Config::shutdown_timeout_ms), show_ms(&Config::shutdown_timeout_ms)},
      {"body_limit", "FLASHGATE_BODY_LIMIT", "largest request body in bytes",
       integer(&Config::body_limit, 64, 64 * 1024 * 1024), show(&Config::body_limit)},
      {"header_limit", "FLASHGATE_HEADER_LIMIT", "largest request header block in bytes",
       integer(&Config::header_limit, 512, 1024 * 1024), show(&Config::header_limit)},
      {"request_timeout", "FLASHGATE_REQUEST_TIMEOUT", "time to send a request's headers and body",
       duration(&Config::request_timeout_ms), show_ms(&Config::request_timeout_ms)},
      {"idle_timeout", "FLASHGATE_IDLE_TIMEOUT", "idle keep-alive connections are closed after",
       duration(&Config::idle_timeout_ms), show_ms(&Config::idle_timeout_ms)},
      {"max_url", "FLASHGATE_MAX_URL", "longest request target in bytes (414)",
       integer(&Config::max_url, 64, 1024 * 1024), show(&Config::max_url)},
      {"max_connections", "FLASHGATE_MAX_CONNECTIONS", "open connections per process",
       integer(&Config::max_connections, 1, 10'000'000), show(&Config::max_connections)},
      {"max_connections_per_client", "FLASHGATE_MAX_CONNECTIONS_PER_CLIENT", "open connections per client address",
       integer(&Config::max_connections_per_client, 1, 10'000'000), show(&Config::max_connections_per_client)},
      {"intake_rate", "FLASHGATE_INTAKE_RATE", "intakes per second per client address (0: unlimited)",
       number(&Config::intake_rate, 0, 1e9), show(&Config::intake_rate)},
      {"intake_burst", "FLASHGATE_INTAKE_BURST", "intake bucket size per client address",
       number(&Config::intake_burst, 1, 1e9), show(&Config::intake_burst)},
      {"poll_rate", "FLASHGATE_POLL_RATE", "polls and streams opened per second per client address (0: unlimited)",
       number(&Config::poll_rate, 0, 1e9), show(&Config::poll_rate)},
      {"poll_burst", "FLASHGATE_POLL_BURST", "poll bucket size per client address",
       number(&Config::poll_burst, 1, 1e9), show(&Config::poll_burst)},
      {"trust_proxy", "FLASHGATE_TRUST_PROXY", "comma-separated proxy addresses whose X-Forwarded-For is believed",
       text(&Config::trust_proxy), show(&Config::trust_proxy)},
      {"log_level", "FLASHGATE_LOG_LEVEL", "trace, debug, info, warn or error",
       one_of(&Config::log_level, {"trace", "debug", "info", "warn", "error"}), show(&Config::log_level)},
      {"log_format", "FLASHGATE_LOG_FORMAT", "text or json", one_of(&Config::log_format, {"text", "json"}),
       show(&Config::log_format)},
  };
  return all;
}

std::string Config::database_url() const {
  return database.empty() ? "sqlite:" + data_dir + "/flashgate.db" : database;
}

std::string Config::host() const {
  const auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

std::uint16_t Config::port() const {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return 0;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
  return ec == std::errc{} && end == listen.data() + listen.size() && port <= 65535 ? static_cast<std::uint16_t>(port)
                                                                                   : 0;
}

std::optional<std::string> load_config(Config& config, const ConfigSources& sources) {
  if (sources.file) {
    toml::table table;
    try {
      table = toml::parse_file(*sources.file);
    } catch (const toml::parse_error& e) {
      return "config file " + *sources.file + ": " + std::string(e.description());
    }
    for (const auto& [key, node] : table) {
      const std::string_view name = key.str();  // (clang 14 cannot capture a structured binding)
      const auto it = std::find_if(settings().begin(), settings().end(),
                                   [name](const Setting& s) { return s.key == name; });
      if (it == settings().end()) return "config file " + *sources.file + ": unknown setting " + std::string(key.str());
      auto value = toml_text(node);
      if (!value) return "config file " + *sources.file + ": " + it->key + " must be a string or a number";
      if (auto error = it->apply(config, *value)) return "config file: " + it->key + " " + *error;
    }
  }
  for (const auto& setting : settings()) {
    if (auto it = sources.environment.find(setting.env); it != sources.environment.end())
      if (auto error = setting.apply(config, it->second)) return setting.env + " " + *error;
  }
  for (const auto& setting : settings()) {
    if (auto it = sources.flags.find(setting.key); it != sources.flags.end())
      if (auto error = setting.apply(config, it->second)) return "--" + setting.key + " " + *error;
  }
  if (config.port() == 0 && config.listen.find(":0") == std::string::npos)
    return "listen must be HOST:PORT";
  return std::nullopt;
}

std::map<std::string, std::string> read_environment() {
  std::map<std::string, std::string> env;
  for (const auto& setting : settings())
    if (const char* value = std::getenv(setting.env.c_str())) env[setting.env] = value;
  return env;
}

}  // namespace flashgate::app
