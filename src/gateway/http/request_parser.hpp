#pragma once
// Beast's HTTP/1.1 parser, reading straight into our Request: no header
// container of Beast's in between (one allocation per field), and the
// checks that decide an answer before the body is read (target length,
// framing) made as soon as the header is complete.
// GCC with the sanitizers sees a boost::optional in Beast's content-length
// code as maybe uninitialized (a false positive, reported where it is
// inlined into our code, so the system-header exemption does not apply).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http/basic_parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <optional>
#include <string>
#include <string_view>

#include "gateway/exchange.hpp"
#include "gateway/http_server.hpp"

namespace flashgate::gateway::http {

namespace beast_http = boost::beast::http;
using error_code = boost::system::error_code;
using beast_view = boost::beast::string_view;  // Beast's own string_view: boost::core's

class RequestParser final : public beast_http::basic_parser<true> {
 public:
  explicit RequestParser(const ServerLimits& limits);

  // put(), with the header limit counted over all calls: Beast's counts the
  // bytes of one call, but consumes complete lines as they come, so a
  // header arriving in pieces could grow past the limit. Not eager: a call
  // stops where the header ends, so its size is known.
  std::size_t feed(boost::asio::const_buffer bytes, error_code& ec);

  // The request, once is_done(); its client_address is left to the caller.
  Request& request() { return request_; }
  unsigned version() const { return version_; }
  bool head() const { return head_; }
  // X-Request-Id as received (empty if none), valid once the header is done.
  std::string_view request_id() const { return request_.header("x-request-id"); }
  // Set when the header alone decides the answer; put() then fails with
  // `refused_error()` and the connection must answer this and close.
  std::optional<Response>& refusal() { return refusal_; }

 private:
  void on_request_impl(beast_http::verb method, beast_view method_str, beast_view target,
                       int version, error_code& ec) override;
  void on_response_impl(int, beast_view, int, error_code&) override {}
  void on_field_impl(beast_http::field name, beast_view name_string, beast_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
  std::size_t on_body_impl(beast_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, beast_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, beast_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  const ServerLimits& limits_;
  Request request_;
  std::optional<Response> refusal_;
  unsigned version_ = 11;
  bool head_ = false;
  int transfer_encodings_ = 0;
  std::string transfer_encoding_;
  bool content_length_ = false;
  std::size_t header_consumed_ = 0;
};

// The error put() reports once refusal() holds an answer.
const error_code& refused_error();

// What a connection answers for bytes it could not parse (`received`: what
// is left of them, for the request line); nullopt: close without a word.
std::optional<Response> failure_answer(const error_code& ec, std::string_view received);

// A client's X-Request-Id if short and printable, else a fresh one.
void assign_request_id(std::string& out, std::string_view given);

}  // namespace flashgate::gateway::http
