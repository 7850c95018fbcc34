// The shop's keys at shutdown: intakes waiting for a fetch are answered by
// stop(), while the fetch is still in flight, and nothing waits afterwards.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "identity/jwt.hpp"
#include "identity/key_source.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Answers the first GET with the JWKS and holds every later connection
// without a word, until release(): a JWKS host that hangs mid-fetch.
class HangingJwksHost {
 public:
  explicit HangingJwksHost(std::string jwks)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), jwks_(std::move(jwks)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~HangingJwksHost() {
    stopping_ = true;
    // A blocking accept does not see its acceptor closed from another thread: a connection wakes it.
    tcp::socket wake(io_);
    boost::system::error_code ec;
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    release();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/jwks"; }
  int connections() const { return connections_.load(); }
  void release() {
    std::lock_guard lock(mutex_);
    for (auto& socket : held_) socket.close();
    held_.clear();
  }

 private:
  void serve() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      if (connections_.fetch_add(1) == 0) {
        asio::streambuf request;
        asio::read_until(socket, request, "\r\n\r\n", ec);
        const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(jwks_.size()) + "\r\nConnection: close\r\n\r\n" + jwks_;
        asio::write(socket, asio::buffer(reply), ec);
        continue;
      }
      std::lock_guard lock(mutex_);
      held_.push_back(std::move(socket));
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string jwks_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<tcp::socket> held_;
  std::thread thread_;
};

template <class Condition>
bool eventually(Condition condition) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(5ms))
    if (condition()) return true;
  return condition();
}

TEST(KeySource, StopAnswersTheTokensWaitingForAFetchInFlightAndRefusesLaterOnes) {
  HangingJwksHost host(flashgate::identity::generate_ed25519_key().public_jwks);
  flashgate::identity::KeySourceSettings settings;
  settings.url = host.url();
  settings.unknown_kid_pause = 0ms;
  auto keys = std::make_unique<flashgate::identity::KeySource>(settings);
  ASSERT_EQ(keys->current()->size(), 1u);

  std::atomic<int> answered{0}, fetched{0};
  const auto waiter = [&](bool ok) {
    answered.fetch_add(1);
    if (ok) fetched.fetch_add(1);
  };
  keys->refresh_for_unknown_kid(waiter);
  ASSERT_TRUE(eventually([&] { return host.connections() == 2; }));  // the fetch hangs at the host
  keys->refresh_for_unknown_kid(waiter);
  EXPECT_EQ(answered.load(), 0);

  auto stopped = std::async(std::launch::async, [&] { keys->stop(); });
  EXPECT_TRUE(eventually([&] { return answered.load() == 2; }));
  EXPECT_EQ(stopped.wait_for(0ms), std::future_status::timeout) << "answered only after the fetch ended";
  host.release();
  stopped.get();

  bool refused_at_once = false;
  keys->refresh_for_unknown_kid([&](bool ok) { refused_at_once = !ok; });
  EXPECT_TRUE(refused_at_once);
  keys.reset();
  EXPECT_EQ(answered.load(), 2) << "each waiting token is answered once";
  EXPECT_EQ(fetched.load(), 0);
}

}  // namespace
