#include "app/application.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "app/logging.hpp"
#include "app/process.hpp"
#include "domain/secrets.hpp"

namespace flashgate::app {
namespace {

// Signals are taken by sigwait, so every thread starts with them blocked.
sigset_t block_shutdown_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // a file size limit is a full disk: fail the write, not the process
  return signals;
}

// Each connection is a descriptor; let the process have as many as it may.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Generated secrets are shown once, on stdout, and never logged again.
std::string secret_or_generate(std::string configured, const char* what) {
  if (!configured.empty()) return configured;
  auto generated = domain::random_secret_hex(24);
  fmt::print("{}: {}\n", what, generated);
  std::fflush(stdout);
  return generated;
}

// Bounded: whatever still runs at the deadline is cut off. Nothing is lost
// by that: every answered intake is already durable.
void exit_at_deadline(std::int64_t timeout_ms) {
  std::thread([timeout_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    spdlog::warn("shutdown took longer than {} ms; exiting now", timeout_ms);
    std::_Exit(0);
  }).detach();
}

}  // namespace

int serve(Config config) {
  const sigset_t signals = block_shutdown_signals();
  setup_logging(config);
  raise_descriptor_limit();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create the data dir: {}", ec.message());
    return 2;
  }
  config.admin_token = secret_or_generate(config.admin_token, "admin token");
  config.payment_secret = secret_or_generate(config.payment_secret, "payment secret");
  const auto shutdown_timeout_ms = config.shutdown_timeout_ms;

  std::optional<Process> process;
  try {
    process.emplace(config);
    process->start();  // the order of its parts: Process::add_components
  } catch (const StartError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  spdlog::info("flashgate ready: role {}, listening on {}:{}, {} windows, data in {}", config.role, config.host(),
               process->port(), process->window_count(), config.data_dir);

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: shutting down", signal);
  exit_at_deadline(shutdown_timeout_ms);
  process->stop();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace flashgate::app
