#pragma once
// The HTTP/1.1 server: one acceptor, one io_context per thread, connections
// spread round-robin over them, and the graceful stop. What a connection does
// is in http/ (Connection, EventStreamSession, LingeringClose); Beast's parser
// only in http/request_parser.cpp.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/router.hpp"
#include "metrics/registry.hpp"

namespace flashgate::gateway {

struct ServerLimits {
  std::size_t body_bytes = 16 * 1024;
  std::size_t header_bytes = 8 * 1024;
  std::chrono::milliseconds request_timeout{10'000};  // to receive headers and body
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive between requests
  std::size_t url_bytes = 4096;
  std::size_t connections = 100'000;
  std::size_t connections_per_client = 1000;
  // Peers bounded by `connections` alone: behind a proxy every buyer's
  // connection is the proxy's, and event streams hold theirs for minutes.
  // (Its clients are told apart per request, by X-Forwarded-For.)
  std::vector<std::string> trusted_proxies;
  // How long stop() waits for the answers of requests handlers already have.
  std::chrono::milliseconds drain_timeout{5'000};
};

class HttpServer {
 public:
  HttpServer(const Router& router, metrics::Registry& metrics, ServerLimits limits);
  ~HttpServer();
  // Binds now (throws if it cannot), serves on `threads` threads.
  void start(const std::string& host, std::uint16_t port, std::size_t threads);
  std::uint16_t port() const;
  // Stops accepting and reading: connections between requests are closed at
  // once; a request a handler already has is answered (with Connection:
  // close) and its connection closed, for at most limits.drain_timeout.
  // Then the I/O threads stop and what is still open (event streams) is cut.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flashgate::gateway
