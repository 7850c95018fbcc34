#include "app/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using flashgate::app::Config;
using flashgate::app::ConfigSources;
using flashgate::app::load_config;
using flashgate::app::read_environment;
using flashgate::app::settings;

namespace fs = std::filesystem;

// A TOML file in a directory of its own, removed with the test.
class TomlFile {
 public:
  explicit TomlFile(const std::string& text) {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("flashgate-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir_);
    path_ = dir_ / "flashgate.toml";
    std::ofstream(path_) << text;
  }
  ~TomlFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TomlFile(const TomlFile&) = delete;
  TomlFile& operator=(const TomlFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path dir_, path_;
};

void expect_error_naming(const std::optional<std::string>& error, std::string_view name) {
  ASSERT_TRUE(error) << "expected an error naming " << name;
  EXPECT_NE(error->find(name), std::string::npos) << "'" << *error << "' does not name " << name;
}

// --- defaults ---

TEST(Config, DefaultsAreTheContracts) {
  const Config c;
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.host(), "127.0.0.1");
  EXPECT_EQ(c.port(), 8080);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.store, "memory");
  EXPECT_EQ(c.database_url(), "sqlite:./data/flashgate.db");
  EXPECT_EQ(c.role, "all");
  EXPECT_EQ(c.ticket_ttl_ms, 3'600'000);
  EXPECT_EQ(c.payment_timeout_ms, 15 * 60'000);
  EXPECT_EQ(c.service_time_ms, 0);
  EXPECT_EQ(c.windows, 0);  // cores x 4, decided at start
  EXPECT_TRUE(c.admin_token.empty());
  EXPECT_TRUE(c.payment_secret.empty());
  EXPECT_TRUE(c.ticket_keys.empty());
}

TEST(Config, NoSourcesKeepTheDefaults) {
  Config c;
  EXPECT_EQ(load_config(c, ConfigSources{}), std::nullopt);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.ticket_ttl_ms, 3'600'000);
  EXPECT_EQ(c.store, "memory");
}

TEST(Config, DatabaseDefaultFollowsTheDataDir) {
  Config c;
  ConfigSources sources;
  sources.flags["data_dir"] = "/var/lib/flashgate";
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.database_url(), "sqlite:/var/lib/flashgate/flashgate.db");
  c.database = "postgresql://db/flashgate";
  EXPECT_EQ(c.database_url(), "postgresql://db/flashgate");
}

TEST(Config, ContractVariablesAreSettings) {
  std::set<std::string> envs, keys;
  for (const auto& s : settings()) {
    envs.insert(s.env);
    EXPECT_TRUE(keys.insert(s.key).second) << "duplicate key " << s.key;
  }
  for (const char* env :
       {"FLASHGATE_LISTEN", "FLASHGATE_DATA_DIR", "FLASHGATE_STORE", "FLASHGATE_DATABASE", "FLASHGATE_ADMIN_TOKEN",
        "FLASHGATE_PAYMENT_SECRET", "FLASHGATE_TICKET_KEYS", "FLASHGATE_TICKET_TTL", "FLASHGATE_PAYMENT_TIMEOUT",
        "FLASHGATE_WINDOWS", "FLASHGATE_SERVICE_TIME"})
    EXPECT_TRUE(envs.contains(env)) << env;
}

// --- each source ---

TEST(Config, TomlFileIsRead) {
  const TomlFile file(R"(
listen = "0.0.0.0:9000"
data_dir = "/srv/flashgate"
ticket_ttl = "2s"
payment_timeout = "3s"
service_time = "20ms"
windows = 8
failure_rate = 0.25
role = "worker"
)");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.port(), 9000);
  EXPECT_EQ(c.data_dir, "/srv/flashgate");
  EXPECT_EQ(c.ticket_ttl_ms, 2000);
  EXPECT_EQ(c.payment_timeout_ms, 3000);
  EXPECT_EQ(c.service_time_ms, 20);
  EXPECT_EQ(c.windows, 8);
  EXPECT_DOUBLE_EQ(c.failure_rate, 0.25);
  EXPECT_EQ(c.role, "worker");
}

TEST(Config, EnvironmentIsRead) {
  Config c;
  ConfigSources sources;
  sources.environment = {{"FLASHGATE_LISTEN", "127.0.0.1:9100"},
                         {"FLASHGATE_TICKET_TTL", "2s"},
                         {"FLASHGATE_PAYMENT_TIMEOUT", "15m"},
                         {"FLASHGATE_WINDOWS", "3"},
                         {"FLASHGATE_SERVICE_TIME", "20ms"},
                         {"FLASHGATE_ADMIN_TOKEN", "admin-token"},
                         {"FLASHGATE_STORE", "redis://127.0.0.1:6379"}};
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.port(), 9100);
  EXPECT_EQ(c.ticket_ttl_ms, 2000);
  EXPECT_EQ(c.payment_timeout_ms, 900'000);
  EXPECT_EQ(c.windows, 3);
  EXPECT_EQ(c.service_time_ms, 20);
  EXPECT_EQ(c.admin_token, "admin-token");
  EXPECT_EQ(c.store, "redis://127.0.0.1:6379");
}

TEST(Config, UnrelatedEnvironmentIsIgnored) {
  Config c;
  ConfigSources sources;
  sources.environment = {{"PATH", "/usr/bin"}, {"FLASHGATE_NO_SUCH_THING", "x"}};
  EXPECT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
}

TEST(Config, FlagsAreRead) {
  Config c;
  ConfigSources sources;
  sources.flags = {{"listen", "127.0.0.1:9200"}, {"payment_timeout", "1h"}, {"role", "gateway"}};
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.port(), 9200);
  EXPECT_EQ(c.payment_timeout_ms, 3'600'000);
  EXPECT_EQ(c.role, "gateway");
}

// --- precedence ---

TEST(Config, EnvironmentOverridesTheFileAndFlagsOverrideBoth) {
  const TomlFile file(R"(
listen = "127.0.0.1:1111"
data_dir = "/from/file"
ticket_ttl = "1s"
payment_timeout = "1m"
service_time = "1ms"
)");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  sources.environment = {{"FLASHGATE_LISTEN", "127.0.0.1:2222"},
                         {"FLASHGATE_DATA_DIR", "/from/env"},
                         {"FLASHGATE_TICKET_TTL", "2s"}};
  sources.flags = {{"listen", "127.0.0.1:3333"}};
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.listen, "127.0.0.1:3333");  // file < env < flag
  EXPECT_EQ(c.data_dir, "/from/env");     // file < env
  EXPECT_EQ(c.ticket_ttl_ms, 2000);       // file < env
  EXPECT_EQ(c.payment_timeout_ms, 60'000);  // file only
  EXPECT_EQ(c.service_time_ms, 1);          // file only
  EXPECT_EQ(c.store, "memory");             // nobody: default
}

TEST(Config, FlagOverridesTheFileWithoutEnvironment) {
  const TomlFile file("ticket_ttl = \"1s\"\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  sources.flags = {{"ticket_ttl", "5s"}};
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.ticket_ttl_ms, 5000);
}

// --- bad values ---

TEST(Config, BadDurationInTheEnvironmentNamesTheVariable) {
  Config c;
  ConfigSources sources;
  sources.environment = {{"FLASHGATE_TICKET_TTL", "soon"}};
  expect_error_naming(load_config(c, sources), "FLASHGATE_TICKET_TTL");
}

TEST(Config, DurationWithoutUnitIsAnError) {
  Config c;
  ConfigSources sources;
  sources.environment = {{"FLASHGATE_PAYMENT_TIMEOUT", "900"}};
  expect_error_naming(load_config(c, sources), "FLASHGATE_PAYMENT_TIMEOUT");
}

TEST(Config, BadFlagNamesTheSetting) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"windows", "-1"},
                                                                     {"windows", "many"},
                                                                     {"windows", "4x"},
                                                                     {"role", "boss"},
                                                                     {"service_time", "1.5s"},
                                                                     {"failure_rate", "2"},
                                                                     {"log_level", "loud"}}) {
    Config c;
    ConfigSources sources;
    sources.flags = {{key, value}};
    expect_error_naming(load_config(c, sources), key);
  }
}

TEST(Config, BadValueInTheFileNamesTheSetting) {
  const TomlFile file("role = \"boss\"\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  expect_error_naming(load_config(c, sources), "role");
}

TEST(Config, NumberWhereADurationIsExpectedInTheFileIsAnError) {
  const TomlFile file("ticket_ttl = 3600\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  expect_error_naming(load_config(c, sources), "ticket_ttl");
}

TEST(Config, UnknownTomlKeyIsAnError) {
  const TomlFile file("listen = \"127.0.0.1:8080\"\nlisten_port = 8080\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  expect_error_naming(load_config(c, sources), "listen_port");
}

TEST(Config, TomlTableIsAnError) {
  const TomlFile file("[server]\nlisten = \"127.0.0.1:8080\"\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  EXPECT_TRUE(load_config(c, sources));
}

TEST(Config, MalformedTomlIsAnErrorNotACrash) {
  const TomlFile file("listen = \"127.0.0.1:8080\nwindows = = 3\n");
  Config c;
  ConfigSources sources;
  sources.file = file.path();
  expect_error_naming(load_config(c, sources), "config file");
}

TEST(Config, MissingFileIsAnError) {
  Config c;
  ConfigSources sources;
  sources.file = (fs::temp_directory_path() / "flashgate-no-such-dir-4711" / "missing.toml").string();
  EXPECT_TRUE(load_config(c, sources));
}

TEST(Config, ListenWithoutPortIsAnError) {
  Config c;
  ConfigSources sources;
  sources.flags = {{"listen", "localhost"}};
  expect_error_naming(load_config(c, sources), "listen");
}

TEST(Config, ListenOnPortZeroIsAllowed) {
  Config c;
  ConfigSources sources;
  sources.flags = {{"listen", "127.0.0.1:0"}};
  EXPECT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.port(), 0);
}

TEST(Config, Ipv6ListenSplitsHostAndPort) {
  Config c;
  c.listen = "[::1]:8443";
  EXPECT_EQ(c.host(), "::1");
  EXPECT_EQ(c.port(), 8443);
}

TEST(Config, PortOutOfRangeIsNotAPort) {
  Config c;
  c.listen = "127.0.0.1:70000";
  EXPECT_EQ(c.port(), 0);
}

// --- durations ---

TEST(Config, DurationsAcceptEveryUnit) {
  for (const auto& [text, ms] : std::map<std::string, std::int64_t>{
           {"250ms", 250}, {"2s", 2000}, {"15m", 900'000}, {"1h", 3'600'000}, {"0", 0}}) {
    Config c;
    ConfigSources sources;
    sources.flags = {{"service_time", text}};
    ASSERT_EQ(load_config(c, sources), std::nullopt) << text;
    EXPECT_EQ(c.service_time_ms, ms) << text;
  }
}

// --- the process environment ---

TEST(Config, ReadEnvironmentPicksUpOnlySettingVariables) {
  ::setenv("FLASHGATE_LOG_LEVEL", "debug", 1);
  ::setenv("FLASHGATE_NOT_A_SETTING_4711", "x", 1);
  const auto env = read_environment();
  ::unsetenv("FLASHGATE_LOG_LEVEL");
  ::unsetenv("FLASHGATE_NOT_A_SETTING_4711");
  ASSERT_TRUE(env.contains("FLASHGATE_LOG_LEVEL"));
  EXPECT_EQ(env.at("FLASHGATE_LOG_LEVEL"), "debug");
  EXPECT_FALSE(env.contains("FLASHGATE_NOT_A_SETTING_4711"));
}

}  // namespace

// --- who the buyer is (issue #21) ---

TEST(Config, AnonymousBuyersOnAPublicAddressAreRefusedNamingTheSetting) {
  for (const char* listen : {"0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080"}) {
    Config c;
    ConfigSources sources;
    sources.flags = {{"listen", listen}};
    const auto error = load_config(c, sources);
    ASSERT_TRUE(error) << listen;
    EXPECT_NE(error->find("buyer_auth"), std::string::npos) << *error;
    EXPECT_NE(error->find("allow-anonymous-buyers"), std::string::npos) << *error;
  }
}

TEST(Config, AnonymousBuyersAreFineOnLoopbackOrWhenAllowedOrForAWorker) {
  const std::vector<std::map<std::string, std::string>> fine = {
      {{"listen", "127.0.0.1:8080"}},
      {{"listen", "127.3.4.5:8080"}},
      {{"listen", "[::1]:8080"}},
      {{"listen", "localhost:8080"}},
      {{"listen", "0.0.0.0:8080"}, {"allow_anonymous_buyers", "true"}},
      {{"listen", "0.0.0.0:9090"}, {"role", "worker"}},
  };
  for (const auto& flags : fine) {
    Config c;
    ConfigSources sources;
    sources.flags = flags;
    EXPECT_EQ(load_config(c, sources), std::nullopt) << flags.begin()->second;
  }
}

TEST(Config, JwtNeedsKeysAndHeaderModeNeedsItsHeaderAndAProxy) {
  Config c;
  ConfigSources sources;
  sources.flags = {{"buyer_auth", "jwt"}};
  expect_error_naming(load_config(c, sources), "jwt_keys");
  sources.flags = {{"buyer_auth", "header"}, {"trust_proxy", "127.0.0.1"}};
  expect_error_naming(load_config(c, sources), "user_header");
  sources.flags = {{"buyer_auth", "header"}, {"user_header", "X-User-Id"}};
  Config fresh;
  expect_error_naming(load_config(fresh, sources), "trust_proxy");
  sources.flags = {{"buyer_auth", "jwt"}, {"jwt_keys", "/etc/keys.json"}, {"listen", "0.0.0.0:8080"}};
  Config ok;
  EXPECT_EQ(load_config(ok, sources), std::nullopt);
  EXPECT_EQ(ok.effective_header_limit(), 32 * 1024) << "room for a token with many claims";
}

TEST(Config, TheHeaderLimitDefaultsToEightKibWithoutJwt) {
  Config c;
  EXPECT_EQ(c.effective_header_limit(), 8 * 1024);
  ConfigSources sources;
  sources.flags = {{"header_limit", "4096"}, {"buyer_auth", "jwt"}, {"jwt_keys", "k.json"}};
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.effective_header_limit(), 4096);
}

// --- the order sink ---

TEST(Config, OrderSinkNeedsItsSecret) {
  Config c;
  ConfigSources sources;
  sources.environment["FLASHGATE_ORDER_SINK"] = "http://127.0.0.1:9000/orders";
  const auto error = load_config(c, sources);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("sink_secret"), std::string::npos) << *error;
  EXPECT_NE(error->find("FLASHGATE_SINK_SECRET"), std::string::npos) << *error;
}

TEST(Config, OrderSinkSettingsAreRead) {
  Config c;
  EXPECT_EQ(c.sink_timeout_ms, 5000);
  EXPECT_EQ(c.sink_deadline_ms, 120'000);
  ConfigSources sources;
  sources.environment["FLASHGATE_ORDER_SINK"] = "https://shop.example/orders";
  sources.environment["FLASHGATE_SINK_SECRET"] = "s3cret";
  sources.environment["FLASHGATE_SINK_TIMEOUT"] = "250ms";
  sources.environment["FLASHGATE_SINK_DEADLINE"] = "2s";
  sources.environment["FLASHGATE_SINK_CA"] = "/etc/shop-ca.pem";
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.order_sink, "https://shop.example/orders");
  EXPECT_EQ(c.sink_secret, "s3cret");
  EXPECT_EQ(c.sink_timeout_ms, 250);
  EXPECT_EQ(c.sink_deadline_ms, 2000);
  EXPECT_EQ(c.sink_ca, "/etc/shop-ca.pem");
}

TEST(Config, OrderSinkMustBeHttp) {
  for (const char* url : {"ftp://shop/orders", "shop.example/orders", "http://"}) {
    Config c;
    ConfigSources sources;
    sources.flags["order_sink"] = url;
    sources.flags["sink_secret"] = "s";
    const auto error = load_config(c, sources);
    ASSERT_TRUE(error.has_value()) << url;
    EXPECT_NE(error->find("order_sink"), std::string::npos) << *error;
  }
}

TEST(Config, EventSinkNeedsTheSinkSecret) {
  Config c;
  ConfigSources sources;
  sources.flags["event_sink"] = "http://127.0.0.1:9000/events";
  const auto error = load_config(c, sources);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("event_sink needs sink_secret"), std::string::npos) << *error;
}

TEST(Config, EventSinkIsReadAndMustBeHttp) {
  Config c;
  EXPECT_EQ(c.event_sink, "");
  ConfigSources sources;
  sources.environment["FLASHGATE_EVENT_SINK"] = "https://shop.example/events";
  sources.environment["FLASHGATE_SINK_SECRET"] = "s3cret";
  ASSERT_EQ(load_config(c, sources), std::nullopt);
  EXPECT_EQ(c.event_sink, "https://shop.example/events");
  EXPECT_TRUE(c.order_sink.empty());  // either sink works without the other

  Config bad;
  ConfigSources wrong;
  wrong.flags["event_sink"] = "ftp://shop/events";
  wrong.flags["sink_secret"] = "s";
  const auto error = load_config(bad, wrong);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("event_sink"), std::string::npos) << *error;
}

TEST(Config, SinkSecretIsNotShown) {
  Config c;
  c.sink_secret = "s3cret";
  for (const auto& s : settings())
    if (s.key == "sink_secret") {
      EXPECT_EQ(s.show(c), "(set)");
    }
}

namespace {

TEST(ConfigArchiveAfter, DefaultsToADayAndIsReadFromEveryLayer) {
  EXPECT_EQ(Config{}.archive_after_ms, 24LL * 3'600'000);
  Config from_env;
  ConfigSources env;
  env.environment = {{"FLASHGATE_ARCHIVE_AFTER", "48h"}};
  ASSERT_EQ(load_config(from_env, env), std::nullopt);
  EXPECT_EQ(from_env.archive_after_ms, 48LL * 3'600'000);
  Config from_flag;
  ConfigSources flags;
  flags.flags = {{"archive_after", "2h"}};
  ASSERT_EQ(load_config(from_flag, flags), std::nullopt);
  EXPECT_EQ(from_flag.archive_after_ms, 2LL * 3'600'000);
}

TEST(ConfigArchiveAfter, ShorterThanTicketTtlPlusPaymentTimeoutIsRefused) {
  Config c;
  ConfigSources sources;
  sources.flags = {{"archive_after", "1h"}};  // < 1h ticket TTL + 15m payment timeout
  const auto error = load_config(c, sources);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("archive_after"), std::string::npos) << *error;
  Config short_lived;
  ConfigSources test_like;  // the shortest the rule allows, as the integration tests run it
  test_like.environment = {
      {"FLASHGATE_TICKET_TTL", "2s"}, {"FLASHGATE_PAYMENT_TIMEOUT", "1s"}, {"FLASHGATE_ARCHIVE_AFTER", "3s"}};
  EXPECT_EQ(load_config(short_lived, test_like), std::nullopt);
}

}  // namespace
