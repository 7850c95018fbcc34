#pragma once
// The Redis store's options from the configuration: --store redis://HOST:PORT
// (a single Redis) or redis-cluster://HOST:PORT[,HOST:PORT...] (a Redis
// Cluster, found from these seed nodes), and the settings it reads.
#include "app/config.hpp"
#include "store/redis/redis_store.hpp"

namespace flashgate::app {

// Throws std::runtime_error, naming the fault, on a store that is neither.
store::redis::RedisStoreOptions redis_store_options(const Config& config);

}  // namespace flashgate::app
