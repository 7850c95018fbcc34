// The memory store's gauges: it answers from memory (no network, no disk),
// so they are read at the scrape.
#include "app/backend_gauges.hpp"

namespace flashgate::app {

std::unique_ptr<StoreGauges> add_memory_store_gauges(store::MemoryStore& store, metrics::Registry& metrics) {
  return std::make_unique<StoreGauges>(store, store, metrics, /*read_at_scrape=*/true);
}

}  // namespace flashgate::app
