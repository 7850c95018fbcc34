#include "platform/http_get.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include <optional>

namespace flashgate::platform {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Target {
  bool tls = false;
  std::string host, port, path;
};

std::optional<Target> parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::nullopt;
  Target target;
  const auto scheme = parsed->scheme();
  if (scheme == "https") target.tls = true;
  else if (scheme != "http") return std::nullopt;
  target.host = std::string(parsed->encoded_host());
  if (target.host.size() > 2 && target.host.front() == '[') target.host = target.host.substr(1, target.host.size() - 2);
  if (target.host.empty()) return std::nullopt;
  target.port = parsed->has_port() ? std::string(parsed->port()) : (target.tls ? "443" : "80");
  target.path = std::string(parsed->encoded_target());
  if (target.path.empty()) target.path = "/";
  return target;
}

// The exchange itself, on any stream (TCP or TLS over TCP); asynchronous only
// so that one deadline bounds it all.
template <class Stream>
void exchange(Stream& stream, const Target& target, const HttpGetOptions& options, HttpGetResult& result,
              asio::io_context& io) {
  http::request<http::empty_body> request{http::verb::get, target.path, 11};
  request.set(http::field::host, target.host);
  request.set(http::field::user_agent, "flashgate");
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body);
  http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      result.error = "sending the request: " + ec.message();
      return;
    }
    http::async_read(stream, buffer, parser, [&](beast::error_code read_ec, std::size_t) {
      if (read_ec) {
        result.error = "reading the answer: " + read_ec.message();
        return;
      }
      result.status = static_cast<int>(parser.get().result_int());
      result.body = std::move(parser.get().body());
    });
  });
  io.run();
}

}  // namespace

HttpGetResult http_get(const std::string& url, const HttpGetOptions& options) {
  HttpGetResult result;
  const auto target = parse_target(url);
  if (!target) {
    result.error = "not an http:// or https:// URL";
    return result;
  }
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(target->host, target->port, ec);
  if (ec) {
    result.error = "resolving " + target->host + ": " + ec.message();
    return result;
  }
  beast::tcp_stream tcp_stream(io);
  tcp_stream.expires_after(options.timeout);
  bool connected = false;
  tcp_stream.async_connect(endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
    if (connect_ec) result.error = "connecting to " + target->host + ": " + connect_ec.message();
    else connected = true;
  });
  io.run();
  if (!connected) return result;
  io.restart();
  if (!target->tls) {
    exchange(tcp_stream, *target, options, result, io);
    return result;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_verify_mode(asio::ssl::verify_peer);
  if (options.ca_file.empty()) tls.set_default_verify_paths(ec);
  else tls.load_verify_file(options.ca_file, ec);
  if (ec) {
    result.error = "loading CA certificates: " + ec.message();
    return result;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
  // SNI, and the certificate must name the host.
  SSL_set_tlsext_host_name(stream.native_handle(), target->host.c_str());
  stream.set_verify_callback(asio::ssl::host_name_verification(target->host));
  bool handshaken = false;
  stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code handshake_ec) {
    if (handshake_ec) result.error = "TLS handshake with " + target->host + ": " + handshake_ec.message();
    else handshaken = true;
  });
  io.run();
  if (!handshaken) return result;
  io.restart();
  exchange(stream, *target, options, result, io);
  return result;
}

}  // namespace flashgate::platform
