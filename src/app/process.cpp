#include "app/process.hpp"

#include <spdlog/spdlog.h>

#include <thread>

#include "app/keys.hpp"

namespace flashgate::app {
namespace {

// The buyer of an intake: from the body, a bearer token or a trusted proxy's
// header. Throws std::runtime_error (for the operator) on unusable keys.
std::unique_ptr<gateway::BuyerIdentity> buyer_identity(const Config& config) {
  gateway::BuyerIdentitySettings settings;
  settings.verify.issuer = config.jwt_issuer;
  settings.verify.audience = config.jwt_audience;
  settings.verify.user_claim = config.user_claim;
  settings.verify.leeway_s = config.jwt_leeway_ms / 1000;
  settings.user_header = config.user_header;
  settings.trusted_proxies = split_list(config.trust_proxy);
  std::unique_ptr<identity::KeySource> keys;
  if (config.buyer_auth == "jwt" && config.role != "worker") {
    settings.mode = gateway::BuyerAuthMode::jwt;
    identity::KeySourceSettings source;
    source.file = config.jwt_keys;
    source.url = config.jwt_keys_url;
    source.refresh = std::chrono::milliseconds(config.jwt_keys_refresh_ms);
    keys = std::make_unique<identity::KeySource>(source);
  } else if (config.buyer_auth == "header") {
    settings.mode = gateway::BuyerAuthMode::header;
  }
  if (settings.mode != gateway::BuyerAuthMode::none)
    spdlog::info("buyers: {} (the body's user_id is no longer believed)", config.buyer_auth);
  return std::make_unique<gateway::BuyerIdentity>(std::move(settings), std::move(keys));
}

template <class Make>
auto or_start_error(Make make) {
  try {
    return make();
  } catch (const std::exception& e) {
    throw StartError(e.what());
  }
}

worker::ArchiverSettings archiver_settings(const Config& config, const Backends& backends,
                                           gateway::SaleArchive& sale_archive) {
  worker::ArchiverSettings settings;
  settings.archive_after_ms = config.archive_after_ms;
  settings.archived = [&sale_archive](const std::string& sale_id) { sale_archive.add(sale_id); };
  settings.outcomes_recorded = backends.outcomes_recorded;
  // Processes share the store: one worker runs the round, and one process
  // (a worker or a gateway's admin call) archives at a time.
  if (auto* locks = backends.locks) {
    settings.leadership = [locks] { return locks->hold_archive_lock(); };
    settings.lock_archive = [locks](std::chrono::milliseconds wait) { return locks->lock_archive(wait); };
    settings.unlock_archive = [locks] { locks->unlock_archive(); };
  }
  return settings;
}

std::size_t http_threads(const Config& config) {
  if (config.threads > 0) return static_cast<std::size_t>(config.threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Process::Process(Config config)
    : config_(std::move(config)),
      tickets_(load_ticket_keys(config_.ticket_keys, config_.data_dir), config_.ticket_ttl_ms),
      buyers_(or_start_error([this] { return buyer_identity(config_); })),
      backends_(or_start_error([this] { return open_backends(config_, metrics_); })) {
  store::Store& store = backends_.store();
  // Archived sales as this process knows them; archive-now where it has an archiver.
  sale_archive_.emplace(backends_.database, [this](const std::string& sale_id, domain::TimeMs now) {
    if (!archiver_) return domain::Result<database::SaleRecord>(domain::Error{
        domain::ErrorCode::unavailable, "this process does not archive (no worker role or no order database)"});
    return archiver_->archive_now(sale_id, now);
  });
  sale_archive_->load();
  store.on_sale_dropped([this](const std::string& sale_id) {
    sale_archive_->add(sale_id);
    backends_.gauges().forget_sale(sale_id);
  });
  if (backends_.database)
    archiver_.emplace(store, *backends_.database, metrics_, archiver_settings(config_, backends_, *sale_archive_));
  worker_.emplace(config_, backends_, metrics_, archiver_ ? &*archiver_ : nullptr);
  gateway_.emplace(config_, store, tickets_, metrics_, *buyers_, *sale_archive_);
  add_components();
}

Process::~Process() { stop(); }

void Process::start() { lifecycle_.start(); }

void Process::stop() { lifecycle_.stop(); }

// The one order of start-up; shutdown is its reverse:
//   intake closes (the journal drained, so every intake in flight has its
//   answer; long polls and streams answer), the windows finish what they
//   hold, the periodic tasks stop and the stock is flushed a last time, with
//   the windows' last orders; key fetches and admin calls in progress are
//   answered, the server reads no new request, writes every answer it owes
//   (an intake's Redis reply may come after the signal) and closes (it
//   answers polls until then); the outcome mirror and the event delivery stop (what
//   they did not carry waits in the log and the outbox), and last the
//   backends' threads are joined, so no store listener or callback runs into
//   a part once the parts are destroyed.
void Process::add_components() {
  auto& w = *worker_;
  auto& g = *gateway_;
  lifecycle_.add({"backends",
                  [this] { backends_.start(); },  // every listener is in place
                  [this] { backends_.close(); }});
  lifecycle_.add({"store gauges", {}, [this] { backends_.gauges().stop(); }, {"backends"}});

  // What the windows hand their work to, or renew it with: it runs as long as they do.
  std::vector<std::string> windows_need = {"backends"};
  const auto task = [&](std::string name, auto& part) {
    if (!part) return;
    lifecycle_.add({name, [&part] { part->start(); }, [&part] { part->stop(); }, {"backends"}});
    windows_need.push_back(std::move(name));
  };
  task("event delivery", w.event_delivery);
  if (w.mirror) {
    lifecycle_.add({"outcome mirror", {}, [&w] { w.mirror->stop(); }, {"backends"}});
    windows_need.push_back("outcome mirror");
  }

  lifecycle_.add({"http server",
                  [this, &g] {
                    try {
                      g.server.start(config_.host(), config_.port(), http_threads(config_));
                    } catch (const std::exception& e) {
                      throw StartError("cannot listen on " + config_.listen + ": " + e.what());
                    }
                  },
                  [&g] { g.server.stop(); },
                  {"backends"}});
  // Answered while the server still writes: admin archive calls, intakes parked for the shop's keys.
  lifecycle_.add({"sale archive", {}, [this] { sale_archive_->stop(); }, {"http server"}});
  lifecycle_.add({"buyer keys", {},
                  [this] {
                    if (auto* keys = buyers_->keys()) keys->stop();
                  },
                  {"http server"}});

  task("stock flush", w.stock_flush);  // its stop flushes: after the windows, with their last orders
  task("payment timeouts", w.unpaid_cancellation);
  task("bucket rebalance", w.rebalance);
  task("archive rounds", w.archive_rounds);
  task("reclaim", w.reclaim);  // renews what the windows hold until they let go
  task("draws", w.drawer);
  if (w.windows) lifecycle_.add({"windows", [&w] { w.windows->start(); }, [&w] { w.windows->stop(); }, windows_need});

  // First to stop: no new intake while the windows finish what was taken.
  lifecycle_.add({"intake", {},
                  [this, &g] {
                    backends_.store().stop_intake();
                    g.watch.close_all();          // long polls answer with their current status
                    backends_.drain_intakes();    // intakes in flight get their answer
                  },
                  {"http server", "backends"}});
}

}  // namespace flashgate::app
