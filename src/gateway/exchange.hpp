#pragma once
// One request and its answer, as handlers see them: no Beast types here, so
// handlers compile without the HTTP stack.
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/errors.hpp"

namespace flashgate::gateway {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, no query
  std::string query;   // raw, after '?'
  std::string body;
  std::string client_address;
  // Names lower-case. Inline room for the few fields most clients send: no allocation for them.
  boost::container::small_vector<std::pair<std::string, std::string>, 4> headers;
  std::vector<std::pair<std::string, std::string>> params;   // from the route pattern

  std::string_view header(std::string_view lower_name) const;
  std::string_view param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string_view content_type = "application/json";  // always a literal or an embedded asset's
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Response json_response(int status, std::string body);
Response error_response(const domain::Error& error);
Response error_response(domain::ErrorCode code, std::string message);
// A refusal the client should retry: with Retry-After (seconds).
Response retry_response(domain::ErrorCode code, std::string message, std::int64_t retry_after_s);

// Kept alive by whoever will answer it; answers from any thread.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  virtual Request& request() = 0;
  // Exactly one of respond() or start_stream() per exchange.
  virtual void respond(Response response) = 0;
  // Streaming answer (server-sent events): headers now, chunks later.
  virtual void start_stream(Response head) = 0;
  virtual void stream_write(std::string chunk) = 0;
  virtual void stream_end() = 0;
  // Called once if the client goes away before the exchange is done.
  virtual void on_abort(std::function<void()> callback) = 0;
  // The metrics label of the route that took this request.
  virtual void set_route(std::string_view route) = 0;
};

using ExchangePtr = std::shared_ptr<Exchange>;

}  // namespace flashgate::gateway
