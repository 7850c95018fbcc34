#pragma once
// Each backend's gauges, registered by open_backends for the backends it
// opens, one file each: sqlite_gauges.cpp (the journal's group commits),
// memory_store_gauges.cpp, redis_store_gauges.cpp (the store's gauges of
// StoreGauges, read as that store can be read, and its own). The names and
// labels are the operators' (docs/operations.md); the integration tests
// check them.
#include <memory>

#include "app/store_gauges.hpp"
#include "database/sqlite/sqlite_database.hpp"
#include "metrics/registry.hpp"
#include "store/memory/memory_store.hpp"
#include "store/redis/redis_store.hpp"

namespace flashgate::app {

// The commit histograms are observed by the writer thread from its first
// transaction on, so they exist before the database is opened.
database::SqliteDatabase::CommitObserver sqlite_commit_histograms(metrics::Registry& metrics);
void add_sqlite_gauges(database::SqliteDatabase& sqlite, metrics::Registry& metrics);

// The memory store answers from memory: read at the scrape.
std::unique_ptr<StoreGauges> add_memory_store_gauges(store::MemoryStore& store, metrics::Registry& metrics);
// Read by a timer thread, never at the scrape; and the gateway's own counters.
std::unique_ptr<StoreGauges> add_redis_store_gauges(store::redis::RedisStore& store, metrics::Registry& metrics);

}  // namespace flashgate::app
