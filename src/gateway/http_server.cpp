#include "gateway/http_server.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <semaphore>
#include <thread>
#include <utility>

#include "gateway/http/connection.hpp"
#include "gateway/http/socket_errors.hpp"
#include "platform/thread_name.hpp"

namespace flashgate::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// Out of descriptors or memory: accept fails at once for as long as the shortage lasts.
bool is_shortage(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const Router& r, metrics::Registry& m, ServerLimits l)
      : limits(l),
        counters(m),
        slots(limits),
        shared{r, counters, limits},
        refused(m.counter("flashgate_connections_refused_total", "Connections closed at once: over a bound")),
        accept_failures(m.counter("flashgate_accept_failures_total",
                                  "Accepts that failed; out of descriptors or memory, accepting pauses a moment")) {
    m.gauge("flashgate_connections_open", "Open HTTP connections", [this] { return static_cast<double>(slots.open()); });
  }

  // One completion takes every connection that is waiting (the acceptor is
  // non-blocking), as nginx's multi_accept does: a crowd that connects at
  // once was otherwise taken one connection per trip through the first I/O
  // thread's queue, behind the requests of the connections already in, and
  // the last ones' first requests waited most of a second.
  void accept() {
    if (!acceptor->is_open()) return;  // stopped
    const std::size_t index = next_context++ % contexts.size();
    acceptor->async_accept(*contexts[index], [this, index](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return accept_failed(ec);
      shortage_logged = false;
      admit(std::move(socket), index);
      for (;;) {
        const std::size_t next = next_context++ % contexts.size();
        tcp::socket more = acceptor->accept(*contexts[next], ec);
        if (ec) {
          --next_context;  // not used: the next connection takes its turn
          if (!http::would_block(ec)) return accept_failed(ec);
          break;
        }
        admit(std::move(more), next);
      }
      accept();
    });
  }

  // Out of descriptors or memory, accept fails at once for as long as the
  // shortage lasts: accepting again straight away spun the first I/O thread
  // at full speed. The connections wait in the backlog instead, and accepting
  // resumes a moment later (a connection closed meanwhile makes room).
  void accept_failed(const error_code& ec) {
    accept_failures.inc();
    http::fail(ec, "accept");
    if (!is_shortage(ec)) return accept();
    if (!shortage_logged) spdlog::warn("http: cannot accept connections ({}); retrying every 100 ms", ec.message());
    shortage_logged = true;
    accept_pause->expires_after(std::chrono::milliseconds(100));
    accept_pause->async_wait([this](error_code wait_ec) {
      if (!wait_ec) accept();
    });
  }

  void admit(tcp::socket socket, std::size_t index) {
    error_code ec;
    auto peer = socket.remote_endpoint(ec);
    std::string address = ec ? std::string() : peer.address().to_string();
    if (!slots.acquire(address)) {
      refused.inc();
      socket.close(ec);  // over the bound: cheapest answer is none
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<http::Connection>(std::move(socket), contexts[index]->get_executor(),
                                       http::ConnectionSlot(slots, std::move(address)), shared, *sweepers[index],
                                       *drains[index])
        ->run();
  }

  // On I/O thread `index`: its connections stop reading; the thread tells
  // `drained` once the answers they owe are written (at once if none is).
  void stop_reading(std::size_t index) {
    auto& drain = *drains[index];
    drain.stopping = true;
    drain.walking = true;  // an answer written inline while walking must not tell too early
    sweepers[index]->for_each([&drain](const std::shared_ptr<http::Expiring>& connection) {
      if (std::static_pointer_cast<http::Connection>(connection)->stop_reading()) ++drain.owed;
    });
    drain.walking = false;
    if (drain.owed == 0) drained.release();
  }

  ServerLimits limits;
  http::RequestCounters counters;
  http::ConnectionSlots slots;
  http::Shared shared;
  metrics::Counter& refused;
  metrics::Counter& accept_failures;
  bool shortage_logged = false;  // one warning per shortage, not one per retry
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<http::DeadlineSweeper>> sweepers;  // one per context, destroyed before them
  std::counting_semaphore<> drained{0};                           // one release per thread at the stop
  std::vector<std::unique_ptr<http::ThreadDrain>> drains;         // one per context
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_pause;  // on the acceptor's context
  std::vector<std::thread> threads;
  std::size_t next_context = 0;
};

HttpServer::HttpServer(const Router& router, metrics::Registry& metrics, ServerLimits limits)
    : impl_(std::make_unique<Impl>(router, metrics, limits)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const std::string& host, std::uint16_t port, std::size_t threads) {
  threads = std::max<std::size_t>(1, threads);
  for (std::size_t i = 0; i < threads; ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
    impl_->sweepers.push_back(std::make_unique<http::DeadlineSweeper>(*impl_->contexts.back()));
    impl_->drains.push_back(std::make_unique<http::ThreadDrain>(impl_->drained));
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("not an IP address: " + host);
  const tcp::endpoint endpoint(address, port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts.front());
  impl_->accept_pause = std::make_unique<asio::steady_timer>(*impl_->contexts.front());
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor.non_blocking(true, ec);  // accept() drains the backlog and stops at would_block
  if (ec) throw std::runtime_error(ec.message());
  impl_->accept();
  for (auto& sweeper : impl_->sweepers) sweeper->start();
  for (std::size_t i = 0; i < impl_->contexts.size(); ++i)
    impl_->threads.emplace_back([ctx = impl_->contexts[i].get(), i] {
      platform::name_this_thread("fg-http-" + std::to_string(i));
      ctx->run();
    });
}

std::uint16_t HttpServer::port() const { return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0; }

void HttpServer::stop() {
  if (impl_->threads.empty()) return;
  asio::post(*impl_->contexts.front(), [this] {
    error_code ec;
    impl_->acceptor->close(ec);
    impl_->accept_pause->cancel();
  });
  // Every request a handler has is answered before the threads stop: an
  // intake whose Redis reply is still on its way, a key fetch, an admin call
  // (an answer already handed over is queued ahead of the walk, and written
  // first). Bounded: a handler that never answers does not hold the process.
  const std::size_t threads = impl_->contexts.size();
  for (std::size_t i = 0; i < threads; ++i) asio::post(*impl_->contexts[i], [this, i] { impl_->stop_reading(i); });
  const auto deadline = Clock::now() + impl_->limits.drain_timeout;
  std::size_t drained = 0;
  while (drained < threads && impl_->drained.try_acquire_until(deadline)) ++drained;
  if (drained < threads)
    spdlog::warn("http: answers still owed after {} ms; their connections are closed unanswered",
                 impl_->limits.drain_timeout.count());
  impl_->guards.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

}  // namespace flashgate::gateway
