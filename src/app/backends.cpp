#include "app/backends.hpp"

#include <charconv>
#include <stdexcept>

#include "database/postgres/postgres_database.hpp"
#include "store/memory/memory_store.hpp"

namespace flashgate::app {
namespace {

store::redis::RedisStoreOptions redis_options(const Config& config) {
  constexpr std::string_view scheme = "redis://";
  std::string_view rest(config.store);
  if (rest.substr(0, scheme.size()) != scheme) throw std::runtime_error("store must be memory or redis://HOST:PORT");
  rest.remove_prefix(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  store::redis::RedisStoreOptions options;
  const auto colon = rest.rfind(':');
  options.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    unsigned port = 0;
    const auto text = rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc{} || end != text.data() + text.size() || port == 0 || port > 65535)
      throw std::runtime_error("store: redis://HOST:PORT has a bad port");
    options.port = static_cast<std::uint16_t>(port);
  }
  if (options.host.empty()) options.host = "127.0.0.1";
  options.reclaim_after = std::chrono::milliseconds(config.reclaim_after_ms);
  options.near_cache_orders = static_cast<std::size_t>(config.near_cache_orders);
  return options;
}

}  // namespace

void Backends::close() {
  if (sqlite) sqlite->close();
}

Backends open_backends(const Config& config) {
  Backends b;
  const std::string url = config.database_url();
  const bool sqlite_url = url.rfind("sqlite:", 0) == 0;
  const bool postgres_url = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!sqlite_url && !postgres_url) throw std::runtime_error("database must be sqlite:PATH or postgresql://...");
  const bool memory = config.store == "memory";

  // The memory store journals into SQLite: the database's file, or one in the data dir.
  if (sqlite_url || memory)
    b.sqlite = std::make_unique<database::SqliteDatabase>(sqlite_url ? url.substr(7) : config.data_dir + "/flashgate.db");
  // A Redis gateway never touches the order database.
  if (postgres_url && (memory || config.role != "gateway"))
    b.remote_database = std::make_unique<database::PostgresDatabase>(url, static_cast<std::size_t>(config.db_pool));
  b.database = b.remote_database ? b.remote_database.get() : b.sqlite.get();

  if (memory) {
    auto store = std::make_unique<store::MemoryStore>(*b.sqlite);
    store->restore(b.sqlite->load());
    b.store = std::move(store);
  } else {
    auto store = std::make_unique<store::redis::RedisStore>(redis_options(config));
    b.redis = store.get();
    b.store = std::move(store);
  }
  return b;
}

}  // namespace flashgate::app
