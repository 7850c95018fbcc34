#pragma once
// The order sink over HTTP(S): POST URL with the signed order. Each window
// thread keeps its own keep-alive connection, so at most --windows calls are
// in flight per process and a window never waits for another's connection.
#include <cstdint>

#include "sink/http_poster.hpp"
#include "sink/order_sink.hpp"

namespace flashgate::sink {

class HttpOrderSink : public OrderSink {
 public:
  // Throws std::invalid_argument for a URL that is not http(s) or a CA file that cannot be read.
  explicit HttpOrderSink(HttpSinkSettings settings);
  SinkAnswer create_order(const OrderRequest& request) override;

 private:
  HttpSinkSettings settings_;
  HttpPoster poster_;
  std::uint64_t serial_;  // tells this sink's thread-local connections from an earlier sink's
};

}  // namespace flashgate::sink
