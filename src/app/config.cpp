#include "app/config.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <cstdlib>
#include <toml++/toml.h>

#include "domain/sale_lifecycle.hpp"
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

Apply boolean(bool Config::*field) {
  return [field](Config& c, std::string_view v) -> std::optional<std::string> {
    for (std::string_view yes : {"true", "1", "yes", "on"})
      if (v == yes) return c.*field = true, std::nullopt;
    for (std::string_view no : {"false", "0", "no", "off"})
      if (v == no) return c.*field = false, std::nullopt;
    return "must be true or false";
  };
}

// Empty, or an absolute http(s) URL.
Apply http_url(std::string Config::*field) {
  return [field](Config& c, std::string_view v) -> std::optional<std::string> {
    if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://"))
      return "must be an http:// or https:// URL";
    if (v == "http://" || v == "https://") return "must name a host";
    c.*field = std::string(v);
    return std::nullopt;
  };
}

// 0 (the default of the mode), or a size a header block can have.
Apply header_bytes(std::int64_t Config::*field) {
  const auto sized = integer(field, 512, 1024 * 1024);
  return [field, sized](Config& c, std::string_view v) -> std::optional<std::string> {
    if (v == "0") return c.*field = 0, std::nullopt;
    if (sized(c, v)) return "must be 0 or an integer from 512 to 1048576";
    return std::nullopt;
  };
}

template <class T>
std::function<std::string(const Config&)> show(T Config::*field) {
  return [field](const Config& c) {
    if constexpr (std::is_same_v<T, std::string>) return c.*field;
    else if constexpr (std::is_same_v<T, bool>) return std::string(c.*field ? "true" : "false");
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

namespace {

// Like Redis's protected mode: a setting that lets anyone buy as anyone is
// only taken without a word where nobody else can connect.
std::optional<std::string> check_buyer_auth(const Config& config) {
  if (config.buyer_auth == "jwt" && config.jwt_keys.empty() && config.jwt_keys_url.empty())
    return "buyer_auth jwt needs jwt_keys (FLASHGATE_JWT_KEYS, --jwt-keys FILE) or jwt_keys_url "
           "(FLASHGATE_JWT_KEYS_URL, --jwt-keys-url URL)";
  if (config.buyer_auth == "header" && config.user_header.empty())
    return "buyer_auth header needs user_header (FLASHGATE_USER_HEADER, --user-header NAME)";
  if (config.buyer_auth == "header" && config.trust_proxy.empty())
    return "buyer_auth header needs trust_proxy (FLASHGATE_TRUST_PROXY, --trust-proxy ADDRESSES): the header is "
           "believed only from those proxies";
  if (config.user_claim.empty()) return "user_claim must not be empty";
  const bool takes_intakes = config.role != "worker";
  if (takes_intakes && config.buyer_auth == "none" && !config.allow_anonymous_buyers &&
      !is_loopback_host(config.host()))
    return "buyer_auth is none (the buyer is whatever the request body says) while listening on " + config.listen +
           ", which is not loopback: set buyer_auth (FLASHGATE_BUYER_AUTH, --buyer-auth) to jwt or header, or allow "
           "it knowingly with allow_anonymous_buyers (FLASHGATE_ALLOW_ANONYMOUS_BUYERS=true, "
           "--allow-anonymous-buyers)";
  return std::nullopt;
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"listen", "FLASHGATE_LISTEN", "address and port to serve HTTP on", text(&Config::listen), show(&Config::listen)},
      {"data_dir", "FLASHGATE_DATA_DIR", "where SQLite, keys and logs live", text(&Config::data_dir),
       show(&Config::data_dir)},
      {"store", "FLASHGATE_STORE", "memory, redis://HOST:PORT or redis-cluster://HOST:PORT[,HOST:PORT...]",
       text(&Config::store), show(&Config::store)},
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
      {"archive_after", "FLASHGATE_ARCHIVE_AFTER",
       "how long a settled sale stays in the store before it is archived (at least ticket_ttl + payment_timeout)",
       duration(&Config::archive_after_ms), show_ms(&Config::archive_after_ms)},
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
      {"redis_wait_replicas", "FLASHGATE_REDIS_WAIT_REPLICAS",
       "distributed: replicas an intake, payment or finish reaches before it is answered (WAIT); -1: 1 if every "
       "Redis master has a replica, else 0",
       integer(&Config::redis_wait_replicas, -1, 16), show(&Config::redis_wait_replicas)},
      {"redis_wait_timeout", "FLASHGATE_REDIS_WAIT_TIMEOUT",
       "distributed: how long that WAIT may take; past it the intake answers 503 (the order exists, a retry finds it)",
       duration(&Config::redis_wait_timeout_ms), show_ms(&Config::redis_wait_timeout_ms)},
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
      {"header_limit", "FLASHGATE_HEADER_LIMIT",
       "largest request header block in bytes (0: 8192, or 32768 with buyer_auth jwt)",
       header_bytes(&Config::header_limit), show(&Config::header_limit)},
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
      {"buyer_auth", "FLASHGATE_BUYER_AUTH",
       "who the buyer of an intake is: none (the body's user_id), jwt (a bearer token) or header (set by a trusted proxy)",
       one_of(&Config::buyer_auth, {"none", "jwt", "header"}), show(&Config::buyer_auth)},
      {"jwt_keys", "FLASHGATE_JWT_KEYS", "jwt: a JWKS file of the keys that sign buyers' tokens",
       text(&Config::jwt_keys), show(&Config::jwt_keys)},
      {"jwt_keys_url", "FLASHGATE_JWT_KEYS_URL",
       "jwt: a JWKS URL (http or https), fetched at start, refreshed in the background and on an unknown kid",
       text(&Config::jwt_keys_url), show(&Config::jwt_keys_url)},
      {"jwt_keys_refresh", "FLASHGATE_JWT_KEYS_REFRESH", "jwt: how often the JWKS URL is fetched again",
       duration(&Config::jwt_keys_refresh_ms), show_ms(&Config::jwt_keys_refresh_ms)},
      {"jwt_leeway", "FLASHGATE_JWT_LEEWAY", "jwt: clock skew allowed on exp and nbf", duration(&Config::jwt_leeway_ms),
       show_ms(&Config::jwt_leeway_ms)},
      {"jwt_issuer", "FLASHGATE_JWT_ISSUER", "jwt: the iss a token must carry (empty: not checked)",
       text(&Config::jwt_issuer), show(&Config::jwt_issuer)},
      {"jwt_audience", "FLASHGATE_JWT_AUDIENCE", "jwt: an aud a token must carry (empty: not checked)",
       text(&Config::jwt_audience), show(&Config::jwt_audience)},
      {"user_claim", "FLASHGATE_USER_CLAIM", "jwt: the claim that names the buyer", text(&Config::user_claim),
       show(&Config::user_claim)},
      {"user_header", "FLASHGATE_USER_HEADER", "header: the request header that names the buyer (e.g. X-User-Id)",
       text(&Config::user_header), show(&Config::user_header)},
      {"allow_anonymous_buyers", "FLASHGATE_ALLOW_ANONYMOUS_BUYERS",
       "allow buyer_auth none on an address that is not loopback (anyone can then buy as anyone)",
       boolean(&Config::allow_anonymous_buyers), show(&Config::allow_anonymous_buyers), true},
      {"buyer_intake_rate", "FLASHGATE_BUYER_INTAKE_RATE",
       "jwt or header: intakes per second per buyer (0: unlimited)", number(&Config::buyer_intake_rate, 0, 1e9),
       show(&Config::buyer_intake_rate)},
      {"buyer_intake_burst", "FLASHGATE_BUYER_INTAKE_BURST", "jwt or header: intake bucket size per buyer",
       number(&Config::buyer_intake_burst, 1, 1e9), show(&Config::buyer_intake_burst)},
      {"order_sink", "FLASHGATE_ORDER_SINK",
       "the shop's order service (http:// or https:// URL): windows POST each order there (empty: the built-in table)",
       http_url(&Config::order_sink), show(&Config::order_sink)},
      {"event_sink", "FLASHGATE_EVENT_SINK",
       "the shop's event receiver (http:// or https:// URL): every CONFIRMED, FAILED, PAID and CANCELLED is POSTed "
       "there, at least once, in version order per order (empty: none)",
       http_url(&Config::event_sink), show(&Config::event_sink)},
      {"sink_secret", "FLASHGATE_SINK_SECRET",
       "HMAC key of Flashgate-Signature on calls to the shop (required with order_sink or event_sink)",
       text(&Config::sink_secret), secret(&Config::sink_secret)},
      {"sink_timeout", "FLASHGATE_SINK_TIMEOUT", "bound on one call to the shop", duration(&Config::sink_timeout_ms),
       show_ms(&Config::sink_timeout_ms)},
      {"sink_deadline", "FLASHGATE_SINK_DEADLINE",
       "an order whose shop stays unavailable this long is FAILED (order service unavailable)",
       duration(&Config::sink_deadline_ms), show_ms(&Config::sink_deadline_ms)},
      {"sink_ca", "FLASHGATE_SINK_CA", "https sinks: a CA file to trust instead of the system's",
       text(&Config::sink_ca), show(&Config::sink_ca)},
      {"sink_breaker_failures", "FLASHGATE_SINK_BREAKER_FAILURES",
       "unavailable answers in a row after which windows hold calls back and probe the shop (0: never)",
       integer(&Config::sink_breaker_failures, 0, 1'000'000), show(&Config::sink_breaker_failures)},
      {"sink_breaker_pause", "FLASHGATE_SINK_BREAKER_PAUSE", "how long the windows hold calls back before a probe",
       duration(&Config::sink_breaker_pause_ms), show_ms(&Config::sink_breaker_pause_ms)},
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
  if (!config.order_sink.empty() && config.sink_secret.empty())
    return "order_sink needs sink_secret (FLASHGATE_SINK_SECRET, --sink-secret): the shop checks each call's "
           "Flashgate-Signature with it";
  if (!config.event_sink.empty() && config.sink_secret.empty())
    return "event_sink needs sink_secret (FLASHGATE_SINK_SECRET, --sink-secret): the shop checks each event's "
           "Flashgate-Signature with it";
  if (config.sink_timeout_ms <= 0) return "sink_timeout must be above 0";
  if (auto refused = domain::validate_archive_after(config.archive_after_ms, config.ticket_ttl_ms,
                                                    config.payment_timeout_ms))
    return refused->message;
  return check_buyer_auth(config);
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).is_loopback();
  return address.is_loopback();
}

std::map<std::string, std::string> read_environment() {
  std::map<std::string, std::string> env;
  for (const auto& setting : settings())
    if (const char* value = std::getenv(setting.env.c_str())) env[setting.env] = value;
  return env;
}

}  // namespace flashgate::app
