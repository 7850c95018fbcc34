#include "sink/http_poster.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include <optional>
#include <stdexcept>

#include "sink/sink_protocol.hpp"

namespace flashgate::sink {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpPoster::Target {
  bool tls = false;
  std::string host, port, path;
  std::string host_header;  // host, [v6], and the port unless the scheme's own
  std::shared_ptr<asio::ssl::context> tls_context;
};

// One caller's connection: its own io_context, so a call runs the loop on
// the calling thread and one expiry bounds the whole exchange.
struct HttpPoster::Connection {
  std::shared_ptr<asio::ssl::context> tls_context;  // declared first: outlives the stream that uses it
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool open = false;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

void HttpPoster::ConnectionDeleter::operator()(Connection* connection) const { delete connection; }

namespace {

struct Exchange {
  int status = 0;
  std::string body;
  bool body_cut = false;
  bool keep_alive = false;
  std::string error;  // no complete HTTP answer
  bool answered_anything = false;
};

// Runs the loop until the handlers are done; the tcp_stream expiry closes
// the socket when the call's time is up, which ends every pending operation.
void run(asio::io_context& io) {
  io.restart();
  io.run();
}

template <class Stream>
void exchange(Stream& stream, HttpPoster::Connection& connection, const http::request<http::string_body>& request,
              Exchange& result) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_reply_body);
  http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      result.error = "sending the call: " + ec.message();
      return;
    }
    http::async_read(stream, connection.buffer, parser, [&](beast::error_code read_ec, std::size_t bytes) {
      result.answered_anything = bytes > 0 || parser.is_header_done();
      if (read_ec == http::error::body_limit && parser.is_header_done()) {
        result.status = static_cast<int>(parser.get().result_int());
        result.body_cut = true;
        return;
      }
      if (read_ec) {
        result.error = "reading the answer: " + read_ec.message();
        return;
      }
      result.status = static_cast<int>(parser.get().result_int());
      result.body = std::move(parser.get().body());
      result.keep_alive = parser.keep_alive();
    });
  });
  run(connection.io);
}

// Connects (and shakes hands) within the call's expiry; false with error set.
bool connect(HttpPoster::Connection& c, const HttpPoster::Target& target, std::string& error) {
  tcp::resolver resolver(c.io);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(target.host, target.port, ec);
  if (ec) {
    error = "resolving " + target.host + ": " + ec.message();
    return false;
  }
  bool connected = false;
  c.tcp().async_connect(endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
    if (connect_ec) error = "connecting to " + target.host + ": " + connect_ec.message();
    else connected = true;
  });
  run(c.io);
  if (!connected || !c.secure) return connected;
  // SNI, and the certificate must name the host.
  SSL_set_tlsext_host_name(c.secure->native_handle(), target.host.c_str());
  c.secure->set_verify_callback(asio::ssl::host_name_verification(target.host));
  bool handshaken = false;
  c.secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code handshake_ec) {
    if (handshake_ec) error = "TLS handshake with " + target.host + ": " + handshake_ec.message();
    else handshaken = true;
  });
  run(c.io);
  return handshaken;
}

}  // namespace

HttpPoster::HttpPoster(const std::string& url, const std::string& ca_file, std::chrono::milliseconds timeout,
                       const std::string& setting)
    : target_(std::make_unique<Target>()), timeout_(timeout) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) throw std::invalid_argument(setting + " must be an http:// or https:// URL");
  const auto scheme = parsed->scheme();
  if (scheme == "https") target_->tls = true;
  else if (scheme != "http") throw std::invalid_argument(setting + " must be an http:// or https:// URL");
  target_->host = std::string(parsed->encoded_host());
  if (target_->host.size() > 2 && target_->host.front() == '[')
    target_->host = target_->host.substr(1, target_->host.size() - 2);
  if (target_->host.empty()) throw std::invalid_argument(setting + " has no host");
  target_->port = parsed->has_port() ? std::string(parsed->port()) : (target_->tls ? "443" : "80");
  target_->host_header = std::string(parsed->encoded_host());
  if (parsed->has_port() && target_->port != (target_->tls ? "443" : "80")) target_->host_header += ":" + target_->port;
  target_->path = std::string(parsed->encoded_target());
  if (target_->path.empty()) target_->path = "/";
  if (target_->tls) {
    target_->tls_context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    target_->tls_context->set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (ca_file.empty()) target_->tls_context->set_default_verify_paths(ec);
    else target_->tls_context->load_verify_file(ca_file, ec);
    if (ec) throw std::invalid_argument("sink_ca: loading CA certificates: " + ec.message());
  }
}

HttpPoster::~HttpPoster() = default;

PostReply HttpPoster::post(ConnectionSlot& slot, const Headers& headers, const std::string& body) const {
  http::request<http::string_body> request{http::verb::post, target_->path, 11};
  request.set(http::field::host, target_->host_header);
  request.set(http::field::user_agent, "flashgate");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();

  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  // A kept-alive connection the server has closed meanwhile fails before any
  // answer: the call is made once more on a new one (the receiver's key makes that safe).
  for (int round = 0; round < 2; ++round) {
    const bool reused = slot && slot->open;
    if (!reused) {
      slot.reset(new Connection());
      auto& c = *slot;
      if (target_->tls) {
        c.tls_context = target_->tls_context;
        c.secure.emplace(c.io, *c.tls_context);
      } else {
        c.plain.emplace(c.io);
      }
    }
    auto& c = *slot;
    c.tcp().expires_at(deadline);
    PostReply reply;
    if (!reused && !connect(c, *target_, reply.error)) {
      slot.reset();
      return reply;
    }
    c.open = true;
    Exchange result;
    if (c.secure) exchange(*c.secure, c, request, result);
    else exchange(*c.plain, c, request, result);
    if (!result.error.empty()) {
      slot.reset();
      if (reused && !result.answered_anything && std::chrono::steady_clock::now() < deadline) continue;
      reply.error = std::move(result.error);
      return reply;
    }
    c.tcp().expires_never();
    if (!result.keep_alive || result.body_cut) slot.reset();
    reply.status = result.status;
    reply.body = std::move(result.body);
    reply.body_cut = result.body_cut;
    return reply;
  }
  return PostReply{0, {}, false, "the connection closed before an answer"};
}

}  // namespace flashgate::sink
