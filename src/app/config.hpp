#pragma once
// Every setting of `flashgate serve`, from defaults, then the TOML file, then
// the environment, then flags: each later source overrides the earlier.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flashgate::app {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string store = "memory";
  std::string database;  // empty: sqlite:<data_dir>/flashgate.db
  std::string role = "all";
  std::string admin_token;     // empty: generated at start and printed once
  std::string payment_secret;  // empty: generated at start and printed once
  std::string ticket_keys;     // empty: a key file in the data dir
  std::int64_t ticket_ttl_ms = 3'600'000;
  std::int64_t payment_timeout_ms = 900'000;
  std::int64_t archive_after_ms = 24LL * 3'600'000;  // a settled sale's time in the store before it is archived
  std::int64_t service_time_ms = 0;
  std::int64_t windows = 0;  // 0: cores x 4
  std::int64_t threads = 0;  // HTTP threads; 0: cores
  double failure_rate = 0.0;
  std::int64_t stock_flush_ms = 1000;
  std::int64_t reclaim_after_ms = 30'000;
  std::int64_t near_cache_orders = 1'000'000;
  std::int64_t redis_wait_replicas = -1;  // -1: 1 if every Redis master has a replica, else 0
  std::int64_t redis_wait_timeout_ms = 1000;
  std::int64_t db_pool = 4;
  std::int64_t max_waiters = 10'000;
  std::int64_t max_streams = 50'000;
  std::int64_t shutdown_timeout_ms = 10'000;
  std::int64_t body_limit = 16 * 1024;
  std::int64_t header_limit = 0;  // 0: 8 KiB, or 32 KiB with buyer_auth jwt (see effective_header_limit)
  std::int64_t request_timeout_ms = 10'000;
  std::int64_t idle_timeout_ms = 60'000;
  std::int64_t max_url = 4096;
  std::int64_t max_connections = 100'000;
  std::int64_t max_connections_per_client = 1000;
  double intake_rate = 5000;  // per client address and second; 0: unlimited
  double intake_burst = 10000;
  double poll_rate = 5000;
  double poll_burst = 10000;
  std::string trust_proxy;  // comma-separated proxy addresses whose X-Forwarded-For is believed
  // Who the buyer of an intake is: none (the body's user_id), jwt (a bearer
  // token of the shop's login) or header (set by a trusted proxy).
  std::string buyer_auth = "none";
  std::string jwt_keys;      // a JWKS file
  std::string jwt_keys_url;  // a JWKS URL, fetched at start and refreshed
  std::int64_t jwt_leeway_ms = 30'000;
  std::string jwt_issuer;    // empty: not checked
  std::string jwt_audience;  // empty: not checked
  std::string user_claim = "sub";
  std::string user_header;   // header mode: the header naming the buyer
  std::int64_t jwt_keys_refresh_ms = 300'000;
  bool allow_anonymous_buyers = false;
  double buyer_intake_rate = 10;  // per verified buyer and second; 0: unlimited
  double buyer_intake_burst = 20;
  // The shop's order service: windows create each order there (empty: the
  // built-in order table alone, with service_time and failure_rate simulating it).
  std::string order_sink;
  std::string event_sink;   // the shop's event receiver: every outcome, signed, at least once
  std::string sink_secret;  // HMAC key of Flashgate-Signature; required with order_sink or event_sink
  std::int64_t sink_timeout_ms = 5000;
  std::int64_t sink_deadline_ms = 120'000;
  std::string sink_ca;  // https: a CA bundle to trust instead of the system's
  std::int64_t sink_breaker_failures = 5;  // 0: no circuit breaker
  std::int64_t sink_breaker_pause_ms = 1000;
  std::string log_level = "info";
  std::string log_format = "text";

  std::string database_url() const;
  // Bearer tokens of a login that puts roles or groups in them run to
  // kilobytes: with buyer_auth jwt the default leaves room for them, so that
  // an oversized token is refused as a token (401), not as a header (431).
  std::int64_t effective_header_limit() const { return header_limit ? header_limit : buyer_auth == "jwt" ? 32 * 1024 : 8 * 1024; }
  std::string host() const;
  std::uint16_t port() const;
};

// One setting: its TOML key (also the flag, with '-' for '_'), its variable,
// what it means, and how to read it from text.
struct Setting {
  std::string key;
  std::string env;
  std::string help;
  std::function<std::optional<std::string>(Config&, std::string_view)> apply;  // error text, if any
  std::function<std::string(const Config&)> show;
  bool is_switch = false;  // a flag without a value (--allow-anonymous-buyers); true/false elsewhere
};

const std::vector<Setting>& settings();

// Layers the sources in order; an error names the source and the setting.
struct ConfigSources {
  std::optional<std::string> file;                 // TOML file path
  std::map<std::string, std::string> environment;  // variable -> value
  std::map<std::string, std::string> flags;        // key -> value
};
// Also refuses combinations that cannot work, or that would be unsafe (buyer
// auth none on an address that is not loopback, Redis's protected mode).
std::optional<std::string> load_config(Config& config, const ConfigSources& sources);
// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(const std::string& host);

// The environment variables of every setting that are set in this process.
std::map<std::string, std::string> read_environment();

}  // namespace flashgate::app
