#pragma once
// The order sink over HTTP(S): POST URL with the signed order. Each window
// thread keeps its own keep-alive connection, so at most --windows calls are
// in flight per process and a window never waits for another's connection.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sink/order_sink.hpp"

namespace flashgate::sink {

struct HttpSinkSettings {
  std::string url;  // http:// or https://
  std::string secret;
  std::chrono::milliseconds timeout{5000};  // one call: connect, TLS, request and reply
  std::string ca_file;                      // https: a CA bundle to trust instead of the system's
};

class HttpOrderSink : public OrderSink {
 public:
  // Throws std::invalid_argument for a URL that is not http(s) or a CA file that cannot be read.
  explicit HttpOrderSink(HttpSinkSettings settings);
  ~HttpOrderSink() override;
  SinkAnswer create_order(const OrderRequest& request) override;

  struct Target;
  struct Connection;

 private:
  HttpSinkSettings settings_;
  std::unique_ptr<Target> target_;
  std::uint64_t serial_;  // tells this sink's thread-local connections from an earlier sink's
};

}  // namespace flashgate::sink
