// The order a process's parts start and stop in (app::Lifecycle), with real
// parts: periodic tasks on the real clock, an HTTP server on loopback.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <chrono>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/lifecycle.hpp"
#include "gateway/http_server.hpp"
#include "gateway/router.hpp"
#include "metrics/registry.hpp"
#include "worker/periodic.hpp"

namespace {

using namespace std::chrono_literals;
using flashgate::app::Lifecycle;
using flashgate::worker::Periodic;

// What the tasks did, in the order they did it, from whichever thread.
class Record {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    lines_.push_back(what);
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Periodic tasks whose last run, on stop, writes their name: the record
// shows the order the lifecycle stopped them in, as the tasks saw it.
struct Tasks {
  void add(Lifecycle& lifecycle, const std::string& name, std::vector<std::string> needs = {}) {
    auto& slot = tasks.emplace_back();
    lifecycle.add({name,
                   [this, &slot, name] {
                     slot.emplace(name, 1h, [this, name] { record.add("last run of " + name); }, true);
                   },
                   [&slot] { slot->stop(); }, std::move(needs)});
  }
  Record record;
  std::list<std::optional<Periodic>> tasks;  // a list: what a lambda points to stays put
};

TEST(Lifecycle, StopsInTheReverseOrderOfStart) {
  Lifecycle lifecycle;
  Tasks tasks;
  tasks.add(lifecycle, "flush");
  tasks.add(lifecycle, "timeouts", {"flush"});
  tasks.add(lifecycle, "windows", {"flush", "timeouts"});
  std::vector<std::string> steps;
  lifecycle.observe([&steps](Lifecycle::Step step, std::string_view name) {
    steps.push_back((step == Lifecycle::Step::starting ? "start " : "stop ") + std::string(name));
  });
  lifecycle.start();
  EXPECT_TRUE(tasks.record.lines().empty()) << "an hourly task ran at its start";
  lifecycle.stop();
  EXPECT_EQ(tasks.record.lines(),
            (std::vector<std::string>{"last run of windows", "last run of timeouts", "last run of flush"}));
  EXPECT_EQ(steps, (std::vector<std::string>{"start flush", "start timeouts", "start windows", "stop windows",
                                             "stop timeouts", "stop flush"}));
  EXPECT_EQ(lifecycle.names(), (std::vector<std::string>{"flush", "timeouts", "windows"}));
}

TEST(Lifecycle, ASecondStopDoesNothing) {
  Lifecycle lifecycle;
  Tasks tasks;
  tasks.add(lifecycle, "flush");
  lifecycle.start();
  lifecycle.stop();
  lifecycle.stop();
  EXPECT_EQ(tasks.record.lines(), std::vector<std::string>{"last run of flush"});
}

TEST(Lifecycle, APartNeedingOneNotAddedBeforeItIsRefused) {
  Lifecycle lifecycle;
  Tasks tasks;
  EXPECT_THROW(tasks.add(lifecycle, "windows", {"flush"}), std::logic_error);
  tasks.add(lifecycle, "flush");
  EXPECT_THROW(tasks.add(lifecycle, "flush"), std::logic_error) << "a name twice";
  tasks.add(lifecycle, "windows", {"flush"});
  EXPECT_EQ(lifecycle.names(), (std::vector<std::string>{"flush", "windows"}));
}

// A part that cannot start (a server on a port already taken): what started
// before it is stopped, last first, and the caller hears why.
TEST(Lifecycle, AFailedStartStopsWhatStartedAndPassesTheErrorOn) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor taken(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = taken.local_endpoint().port();

  flashgate::gateway::Router router;
  flashgate::metrics::Registry metrics;
  flashgate::gateway::HttpServer server(router, metrics, {});
  Lifecycle lifecycle;
  Tasks tasks;
  tasks.add(lifecycle, "flush");
  tasks.add(lifecycle, "timeouts");
  bool server_stopped = false;
  lifecycle.add({"http server", [&] { server.start("127.0.0.1", port, 1); }, [&] { server_stopped = true; }});
  tasks.add(lifecycle, "after the server");

  EXPECT_THROW(lifecycle.start(), std::runtime_error);
  EXPECT_EQ(tasks.record.lines(), (std::vector<std::string>{"last run of timeouts", "last run of flush"}));
  EXPECT_FALSE(server_stopped) << "a part that did not start is not stopped";
  EXPECT_FALSE(tasks.tasks.back().has_value()) << "a part after the failure was started";
  lifecycle.stop();
  EXPECT_EQ(tasks.record.lines().size(), 2u) << "a stop after the failed start stopped something again";
}

}  // namespace
