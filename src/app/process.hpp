#pragma once
// One flashgate process: its parts wired from a Config, and the one order in
// which they start (Lifecycle; they stop in the reverse order). app::serve
// runs it until a signal; the unit tests run it as it is.
#include <memory>
#include <optional>
#include <stdexcept>

#include "app/backends.hpp"
#include "app/config.hpp"
#include "app/gateway_parts.hpp"
#include "app/lifecycle.hpp"
#include "app/worker_parts.hpp"
#include "domain/ticket.hpp"
#include "gateway/buyer_identity.hpp"
#include "gateway/sale_archive.hpp"
#include "metrics/registry.hpp"
#include "worker/archiver.hpp"

namespace flashgate::app {

// A start that failed for a reason the operator can fix (unusable keys,
// backends, sink settings, a port taken): logged, exit code 2.
struct StartError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Process {
 public:
  // Opens the backends and makes every part; runs none of them yet. The
  // config's secrets are set (app::serve generates missing ones). Throws
  // StartError.
  explicit Process(Config config);
  // Stops what still runs before any part is destroyed.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts every part in the lifecycle's order; throws StartError (having
  // stopped what it started) if the server cannot listen.
  void start();
  // The shutdown: every part stopped, last started first.
  void stop();

  std::uint16_t port() const { return gateway_->server.port(); }
  std::size_t window_count() const { return worker_->window_count; }
  Lifecycle& lifecycle() { return lifecycle_; }

 private:
  void add_components();

  const Config config_;
  const domain::TicketCodec tickets_;
  std::unique_ptr<gateway::BuyerIdentity> buyers_;
  metrics::Registry metrics_;
  Backends backends_;
  // Where this process archives: a worker in rounds, any process with the
  // order database on the admin call. Declared before the set that calls it.
  std::optional<worker::Archiver> archiver_;
  std::optional<gateway::SaleArchive> sale_archive_;
  std::optional<WorkerParts> worker_;
  std::optional<GatewayParts> gateway_;
  Lifecycle lifecycle_;
};

}  // namespace flashgate::app
