// The Redis store's gauges: the store's are gathered by a timer thread (a
// Redis that hangs delays the gauges, not /metrics), with the outcomes not
// yet written to PostgreSQL; the gateway's own counters are read at the
// scrape, no Redis call.
#include "app/backend_gauges.hpp"

namespace flashgate::app {

std::unique_ptr<StoreGauges> add_redis_store_gauges(store::redis::RedisStore& store, metrics::Registry& metrics) {
  auto* redis = &store;
  metrics.gauge("flashgate_near_cache_hits", "Polls answered from the gateway's memory",
                [redis] { return static_cast<double>(redis->near_cache().hits()); });
  metrics.gauge("flashgate_near_cache_misses", "Polls that had to read the store",
                [redis] { return static_cast<double>(redis->near_cache().misses()); });
  metrics.gauge("flashgate_intake_sold_out_from_memory", "Buyers a gateway told sold out without asking Redis",
                [redis] { return static_cast<double>(redis->sold_out_book().answered()); });
  metrics.gauge("flashgate_near_cache_orders", "Status objects held by the near-cache",
                [redis] { return static_cast<double>(redis->near_cache().size()); });
  return std::make_unique<StoreGauges>(store, store, metrics, /*read_at_scrape=*/false,
                                       [redis] { return redis->outcome_backlog(); });
}

}  // namespace flashgate::app
