// serve_bytes: the connection's parsing, limits and routing without a socket.
#include "gateway/serve_bytes.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <atomic>
#include <future>
#include <mutex>

#include "gateway/http/request_parser.hpp"
#include "gateway/http/response_writer.hpp"

namespace flashgate::gateway {

namespace {

// An exchange that writes its answer into a string instead of a socket.
class CapturingExchange final : public Exchange {
 public:
  CapturingExchange(Request request, unsigned version, bool head)
      : request_(std::move(request)), version_(version), head_(head) {}
  const Request& request() const override { return request_; }
  Request& request() override { return request_; }
  void respond(Response response) override {
    std::string bytes;
    http::append_response(bytes, response, version_, false, head_, "test");
    finish(std::move(bytes));
  }
  void start_stream(Response head) override {
    std::lock_guard lock(mutex_);
    streamed_ = http::stream_head(head, "test");
  }
  void stream_write(std::string chunk) override {
    std::lock_guard lock(mutex_);
    streamed_ += chunk;
  }
  void stream_end() override {
    std::string all;
    {
      std::lock_guard lock(mutex_);
      all = streamed_;
    }
    finish(std::move(all));
  }
  void on_abort(std::function<void()>) override {}
  void set_route(std::string_view) override {}

  std::string wait(std::chrono::milliseconds timeout) {
    auto answer = promise_.get_future();
    if (answer.wait_for(timeout) == std::future_status::ready) return answer.get();
    std::lock_guard lock(mutex_);
    return streamed_;  // a stream still open: what was sent so far
  }

 private:
  void finish(std::string bytes) {
    if (!answered_.exchange(true)) promise_.set_value(std::move(bytes));
  }
  Request request_;
  unsigned version_;
  bool head_;
  std::mutex mutex_;
  std::string streamed_;
  std::promise<std::string> promise_;
  std::atomic<bool> answered_{false};
};

std::string rejection(const Response& r) {
  std::string bytes;
  http::append_response(bytes, r, 11, false, false, "test");
  return bytes;
}

}  // namespace

std::string serve_bytes(const Router& router, std::string_view bytes, const ServerLimits& limits,
                        std::chrono::milliseconds wait) {
  return serve_pieces(router, {bytes}, limits, wait);
}

std::string serve_pieces(const Router& router, const std::vector<std::string_view>& pieces,
                         const ServerLimits& limits, std::chrono::milliseconds wait) {
  http::RequestParser parser(limits);
  std::string received;  // what arrived and the parser has not consumed yet
  for (auto piece : pieces) {
    received.append(piece);
    while (!parser.is_done() && !received.empty()) {
      http::error_code ec;
      const std::size_t used = parser.feed(boost::asio::buffer(received), ec);
      received.erase(0, used);
      if (parser.refusal()) return rejection(*parser.refusal());
      if (ec == boost::beast::http::error::need_more) break;  // wait for the next piece
      if (ec) {
        auto answer = http::failure_answer(ec, received);
        return answer ? rejection(*answer) : std::string();
      }
      if (used == 0) break;
    }
  }
  if (!parser.is_done()) return {};  // a connection would wait, then time out
  const unsigned version = parser.version();
  const bool head = parser.head();
  Request request = std::move(parser.request());
  request.client_address = "127.0.0.1";
  auto exchange = std::make_shared<CapturingExchange>(std::move(request), version, head);
  router.dispatch(exchange);
  return exchange->wait(wait);
}

}  // namespace flashgate::gateway
