// HttpServer on loopback with handlers written for the test: what a session
// promises whatever order its exchange's calls arrive in.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/http_server.hpp"
#include "gateway/router.hpp"
#include "metrics/registry.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using flashgate::gateway::ExchangePtr;
using flashgate::gateway::HttpServer;
using flashgate::gateway::Response;
using flashgate::gateway::Router;
using flashgate::gateway::ServerLimits;

// One server with the test's routes, on an ephemeral port, one I/O thread.
struct Server {
  explicit Server(Router r, ServerLimits limits = {}) : router(std::move(r)), http(router, registry, std::move(limits)) {
    http.start("127.0.0.1", 0, 1);
  }
  Router router;
  flashgate::metrics::Registry registry;
  HttpServer http;
};

struct Client {
  explicit Client(std::uint16_t port) : socket(io) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }
  // Everything until the server closes.
  std::string read_to_end() {
    std::string all;
    boost::system::error_code ec;
    char chunk[4096];
    while (!ec) all.append(chunk, socket.read_some(asio::buffer(chunk), ec));
    return all;
  }
  // Reads until `count` answers ending in `marker` have arrived.
  void read_answers(std::size_t count, const std::string& marker) {
    char chunk[65536];
    while (count > 0) {
      const std::size_t n = socket.read_some(asio::buffer(chunk));
      carry.append(chunk, n);
      std::size_t at = 0, found;
      while (count > 0 && (found = carry.find(marker, at)) != std::string::npos) {
        --count;
        at = found + marker.size();
      }
      carry.erase(0, at);
    }
  }
  asio::io_context io;
  tcp::socket socket;
  std::string carry;
};

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

Response event_stream_head() {
  Response head;
  head.content_type = "text/event-stream";
  return head;
}

const std::string get_stream = "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n";

// A change delivered by another thread can be written before the stream's
// head is queued (the events handler registers with the watch, then starts
// the stream): the chunk must still follow the head on the wire.
TEST(HttpServer, AStreamChunkWrittenBeforeTheHeadFollowsIt) {
  Router router;
  router.add("GET", "/stream", [](const ExchangePtr& ex) {
    ex->stream_write("data: early\n\n");
    ex->start_stream(event_stream_head());
    ex->stream_write("data: late\n\n");
    ex->stream_end();
  });
  Server server(std::move(router));
  Client client(server.http.port());
  client.send(get_stream);
  const std::string wire = client.read_to_end();
  ASSERT_EQ(wire.rfind("HTTP/1.1 200 ", 0), 0u) << wire;
  const auto early = wire.find("data: early"), late = wire.find("data: late");
  ASSERT_NE(early, std::string::npos) << wire;
  EXPECT_LT(early, late) << wire;
}

TEST(HttpServer, AStreamEndedBeforeItsHeadStillSendsTheHeadAndItsChunks) {
  Router router;
  router.add("GET", "/stream", [](const ExchangePtr& ex) {
    ex->stream_write("data: only\n\n");
    ex->stream_end();
    ex->start_stream(event_stream_head());
  });
  Server server(std::move(router));
  Client client(server.http.port());
  client.send(get_stream);
  const std::string wire = client.read_to_end();
  ASSERT_EQ(wire.rfind("HTTP/1.1 200 ", 0), 0u) << wire;
  EXPECT_NE(wire.find("data: only"), std::string::npos) << wire;
}

// The same race with real threads: a change thread writing while the handler starts the stream.
TEST(HttpServer, AChangeRacingTheStreamsStartNeverPrecedesTheHead) {
  Router router;
  router.add("GET", "/stream", [](const ExchangePtr& ex) {
    std::thread change([ex] { ex->stream_write("data: change\n\n"); });
    ex->start_stream(event_stream_head());
    change.join();
    ex->stream_end();
  });
  Server server(std::move(router));
  for (int i = 0; i < 200; ++i) {
    Client client(server.http.port());
    client.send(get_stream);
    const std::string wire = client.read_to_end();
    ASSERT_EQ(wire.rfind("HTTP/1.1 200 ", 0), 0u) << "connection " << i << ": " << wire;
    ASSERT_NE(wire.find("data: change"), std::string::npos) << wire;
  }
}

// An answer another thread hands over just before the stop (an intake whose
// journal commit the shutdown waited for) still reaches its client: the stop
// writes what was handed to the I/O threads before it closes them.
TEST(HttpServer, AnAnswerHandedOverJustBeforeTheStopIsWritten) {
  for (int round = 0; round < 100; ++round) {
    std::promise<ExchangePtr> held;
    Router router;
    router.add("GET", "/later", [&held](const ExchangePtr& ex) { held.set_value(ex); });
    auto server = std::make_unique<Server>(std::move(router));
    Client client(server->http.port());
    client.send("GET /later HTTP/1.1\r\nHost: t\r\n\r\n");
    held.get_future().get()->respond(text("answered"));
    server->http.stop();
    server.reset();  // what the I/O threads never ran goes with it, and the connection closes
    const std::string wire = client.read_to_end();
    ASSERT_NE(wire.find("answered"), std::string::npos) << "round " << round << ": " << wire;
  }
}

constexpr std::size_t pipelined = 100;

// Sends `requests` GETs of `path` on one connection, `pipelined` at a time.
void poll_many(Client& client, const std::string& path, std::size_t requests) {
  std::string batch;
  for (std::size_t i = 0; i < pipelined; ++i) batch += "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
  for (std::size_t sent = 0; sent < requests; sent += pipelined) {
    client.send(batch);
    client.read_answers(pipelined, "\r\n\r\nok");
  }
}

// What a long poll registers: a callback holding its waiter. `held` counts the callbacks alive.
struct AbortProbe {
  std::shared_ptr<int> held = std::make_shared<int>(0);
  std::shared_ptr<std::atomic<int>> called = std::make_shared<std::atomic<int>>(0);
  std::function<void()> callback() const {
    return [held = held, called = called] { ++*called; };
  }
};

// A long poll answered at once registers on_abort and answers in the same
// breath; the registration (posted) lands after the answer.
TEST(HttpServer, AbortCallbacksOfExchangesAnsweredAtOnceAreNotKept) {
  AbortProbe probe;
  Router router;
  router.add("GET", "/poll", [&probe](const ExchangePtr& ex) {
    ex->on_abort(probe.callback());
    ex->respond(text("ok"));
  });
  Server server(std::move(router));
  {
    Client client(server.http.port());
    poll_many(client, "/poll", 100'000);
    // A few may still be in the connection's queue; 100,000 were once kept until it closed.
    EXPECT_LT(probe.held.use_count(), 10);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(*probe.called, 0) << "the hang-up called the callbacks of answered exchanges";
}

// Long polls answered later, from another thread: the answer may come before
// or after the registration lands.
TEST(HttpServer, AbortCallbacksOfExchangesAnsweredLaterAreNotKept) {
  AbortProbe probe;
  asio::thread_pool answerer(1);
  Router router;
  router.add("GET", "/poll", [&probe, &answerer](const ExchangePtr& ex) {
    ex->on_abort(probe.callback());
    asio::post(answerer, [ex] { ex->respond(text("ok")); });
  });
  Server server(std::move(router));
  {
    Client client(server.http.port());
    poll_many(client, "/poll", 20'000);  // each answer crosses threads twice: fewer, as clear
    EXPECT_LT(probe.held.use_count(), 10);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(*probe.called, 0);
  answerer.join();
}

TEST(HttpServer, AClientThatHangsUpOnAWaitingExchangeIsHeardOf) {
  std::promise<void> aborted;
  std::shared_ptr<flashgate::gateway::Exchange> waiting;  // never answered
  Router router;
  router.add("GET", "/wait", [&](const ExchangePtr& ex) {
    waiting = ex;
    ex->on_abort([&aborted] { aborted.set_value(); });
  });
  Server server(std::move(router));
  {
    Client client(server.http.port());
    client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(aborted.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  server.http.stop();
  waiting.reset();  // before the server goes: an exchange holds its session, whose slot the server counts
}

// Connections that get an answer: a refused one is closed before its request is read.
std::size_t served_among(std::vector<std::unique_ptr<Client>>& clients) {
  std::size_t served = 0;
  for (auto& client : clients) {
    client->send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
    try {
      client->read_answers(1, "\r\n\r\nok");
      ++served;
    } catch (const boost::system::system_error&) {
    }
  }
  return served;
}

Router ok_router() {
  Router router;
  router.add("GET", "/ok", [](const ExchangePtr& ex) { ex->respond(text("ok")); });
  return router;
}

std::vector<std::unique_ptr<Client>> connect_many(std::uint16_t port, std::size_t count) {
  std::vector<std::unique_ptr<Client>> clients;
  for (std::size_t i = 0; i < count; ++i) clients.push_back(std::make_unique<Client>(port));
  return clients;
}

// A stream's client may send bytes (a pipelined request nobody will answer)
// before it hangs up: the hang-up is still heard, and the stream's waiter freed.
TEST(HttpServer, AStreamsClientThatSendsBytesAndThenHangsUpIsHeardOf) {
  std::promise<void> aborted;
  std::shared_ptr<flashgate::gateway::Exchange> streaming;  // never ended
  Router router;
  router.add("GET", "/stream", [&](const ExchangePtr& ex) {
    streaming = ex;
    ex->start_stream(event_stream_head());
    ex->on_abort([&aborted] { aborted.set_value(); });
  });
  Server server(std::move(router));
  {
    Client client(server.http.port());
    client.send(get_stream);
    client.read_answers(1, "\r\n\r\n");  // the head: the stream has its own session now
    client.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(aborted.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  server.http.stop();
  streaming.reset();
}

// The connection's slot goes with its socket to the stream: a second
// connection of the same client is refused while the stream lasts, and
// served once it has ended.
TEST(HttpServer, AStreamKeepsItsConnectionsSlotUntilItEnds) {
  std::promise<ExchangePtr> started;
  Router router = ok_router();
  router.add("GET", "/stream", [&](const ExchangePtr& ex) {
    ex->start_stream(event_stream_head());
    started.set_value(ex);
  });
  ServerLimits limits;
  limits.connections_per_client = 1;
  Server server(std::move(router), limits);
  Client streamer(server.http.port());
  streamer.send(get_stream);
  streamer.read_answers(1, "\r\n\r\n");
  auto stream = started.get_future().get();
  {
    auto refused = connect_many(server.http.port(), 1);
    EXPECT_EQ(served_among(refused), 0u);
  }
  stream->stream_end();
  stream.reset();
  EXPECT_EQ(streamer.read_to_end(), "");  // returns: the stream's connection has closed
  std::size_t served = 0;
  for (int attempt = 0; attempt < 200 && served == 0; ++attempt) {
    auto clients = connect_many(server.http.port(), 1);
    served = served_among(clients);
    if (served == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(served, 1u);
}

TEST(HttpServer, APeerIsBoundedPerClient) {
  ServerLimits limits;
  limits.connections_per_client = 3;
  Server server(ok_router(), limits);
  auto clients = connect_many(server.http.port(), 5);
  EXPECT_EQ(served_among(clients), 3u);
}

// Behind a proxy every connection is the proxy's: only the process bound applies.
TEST(HttpServer, ATrustedProxyIsBoundedByTheProcessLimitAlone) {
  ServerLimits limits;
  limits.connections_per_client = 3;
  limits.connections = 6;
  limits.trusted_proxies = {"192.0.2.1", "127.0.0.1"};
  Server server(ok_router(), limits);
  auto clients = connect_many(server.http.port(), 8);
  EXPECT_EQ(served_among(clients), 6u);
}

// Whether the server still accepts: once the stop has begun it refuses.
bool accepts(std::uint16_t port) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

void wait_until_refused(std::uint16_t port) {
  while (accepts(port)) std::this_thread::yield();
}

// An intake whose Redis reply comes back after the stop began (the reply
// arrives on the Redis client's thread, later than any round of the I/O
// threads' queues): its client still gets the whole answer, which closes the
// connection.
TEST(HttpServer, ARequestAnsweredFromAnotherThreadAfterTheStopBeganIsWritten) {
  std::promise<ExchangePtr> held;
  Router router;
  router.add("POST", "/orders", [&held](const ExchangePtr& ex) { held.set_value(ex); });
  ServerLimits limits;
  limits.drain_timeout = std::chrono::minutes(10);  // the test, not a deadline, ends the wait
  auto server = std::make_unique<Server>(std::move(router), limits);
  const auto port = server->http.port();
  Client client(port);
  client.send("POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}");
  ExchangePtr exchange = held.get_future().get();
  auto stopped = std::async(std::launch::async, [&server] { server->http.stop(); });
  wait_until_refused(port);
  // The stop waits for this answer; a stop that did not would be over by now.
  stopped.wait_for(std::chrono::milliseconds(200));
  exchange->respond(text("accepted"));
  exchange.reset();
  stopped.get();
  server.reset();
  const std::string wire = client.read_to_end();
  EXPECT_EQ(wire.rfind("HTTP/1.1 200 ", 0), 0u) << wire;
  EXPECT_NE(wire.find("accepted"), std::string::npos) << wire;
  EXPECT_NE(wire.find("Connection: close"), std::string::npos) << wire;
}

// While the stop waits for an answer, a keep-alive connection between
// requests is closed at once, and the answered one closes after its answer.
TEST(HttpServer, TheStopClosesIdleConnectionsAndClosesOthersAfterTheirAnswer) {
  std::promise<ExchangePtr> held;
  Router router = ok_router();
  router.add("GET", "/later", [&held](const ExchangePtr& ex) { held.set_value(ex); });
  ServerLimits limits;
  limits.drain_timeout = std::chrono::minutes(10);
  Server server(std::move(router), limits);
  Client idle(server.http.port());
  idle.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
  idle.read_answers(1, "\r\n\r\nok");
  Client waiting(server.http.port());
  waiting.send("GET /later HTTP/1.1\r\nHost: t\r\n\r\n");
  ExchangePtr exchange = held.get_future().get();
  auto stopped = std::async(std::launch::async, [&server] { server.http.stop(); });
  EXPECT_EQ(idle.read_to_end(), "") << "the idle connection was closed without another answer";
  EXPECT_NE(stopped.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "the stop waits for /later";
  exchange->respond(text("later"));
  exchange.reset();
  const std::string wire = waiting.read_to_end();  // ends: the server closed after the answer
  EXPECT_NE(wire.find("later"), std::string::npos) << wire;
  stopped.get();
}

// A handler that never answers holds the stop for drain_timeout, no longer.
TEST(HttpServer, AnAnswerThatNeverComesHoldsTheStopOnlyUntilItsDeadline) {
  std::promise<ExchangePtr> held;
  Router router;
  router.add("GET", "/never", [&held](const ExchangePtr& ex) { held.set_value(ex); });
  ServerLimits limits;
  limits.drain_timeout = std::chrono::milliseconds(100);
  auto server = std::make_unique<Server>(std::move(router), limits);
  Client client(server->http.port());
  client.send("GET /never HTTP/1.1\r\nHost: t\r\n\r\n");
  ExchangePtr never = held.get_future().get();
  server->http.stop();
  never.reset();
  server.reset();
  EXPECT_EQ(client.read_to_end(), "");
}

}  // namespace
