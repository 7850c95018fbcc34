#include "gateway/http/request_parser.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>

namespace flashgate::gateway::http {

namespace {

Response with_status(Response r, int status) {
  r.status = status;
  return r;
}

// ASCII only, as header names are; std::tolower asks the locale each time.
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// Lower-case hex digits of `value` written at `out` (at most 16); their count.
std::size_t append_hex(char* out, std::uint64_t value) {
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value != 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Beast reports any malformed version as bad_version; only a well-formed
// request line naming another version is 505, the rest is a bad request.
bool names_another_version(std::string_view received) {
  const auto end = received.find("\r\n");
  if (end == std::string_view::npos) return false;
  const auto line = received.substr(0, end);
  const auto first = line.find(' ');
  const auto last = line.rfind(' ');
  if (first == std::string_view::npos || first == last || first == 0) return false;
  for (char c : line.substr(0, first))
    if (c < 'A' || c > 'Z') return false;
  for (char c : line.substr(first + 1, last - first - 1))
    if (c <= ' ' || c >= 127) return false;
  const auto version = line.substr(last + 1);
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5])) &&
         version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]));
}

Response wrong_version() {
  return with_status(error_response(domain::ErrorCode::invalid_request, "only HTTP/1.0 and HTTP/1.1 are served"), 505);
}

}  // namespace

const error_code& refused_error() {
  static const error_code refused = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
  return refused;
}

RequestParser::RequestParser(const ServerLimits& limits) : limits_(limits) {
  body_limit(limits.body_bytes);
  header_limit(static_cast<std::uint32_t>(limits.header_bytes));
}

std::size_t RequestParser::feed(boost::asio::const_buffer bytes, error_code& ec) {
  if (is_header_done()) return put(bytes, ec);
  const std::size_t used = put(bytes, ec);  // not eager: stops where the header ends
  if (ec && ec != beast_http::error::need_more) return used;
  header_consumed_ += used;
  const std::size_t seen = is_header_done() ? header_consumed_ : header_consumed_ + (bytes.size() - used);
  const bool over = is_header_done() ? seen > limits_.header_bytes : seen >= limits_.header_bytes;
  if (over) ec = beast_http::error::header_limit;
  return used;
}

void RequestParser::on_request_impl(beast_http::verb method, beast_view method_view, beast_view target_view,
                                    int version, error_code&) {
  const std::string_view method_str(method_view.data(), method_view.size());
  const std::string_view target(target_view.data(), target_view.size());
  request_.method.assign(method_str);
  const auto q = target.find('?');
  request_.path.assign(target.substr(0, q));  // the router decodes it segment by segment
  if (q != std::string_view::npos) request_.query.assign(target.substr(q + 1));
  version_ = static_cast<unsigned>(version);
  head_ = method == beast_http::verb::head;
  if (target.size() > limits_.url_bytes)
    refusal_ = with_status(error_response(domain::ErrorCode::invalid_request, "the request target is too long"), 414);
}

void RequestParser::on_field_impl(beast_http::field name, beast_view name_view, beast_view value_view,
                                  error_code&) {
  const std::string_view name_string(name_view.data(), name_view.size());
  const std::string_view value(value_view.data(), value_view.size());
  std::string lowered(name_string);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
  request_.headers.emplace_back(std::move(lowered), std::string(value));
  if (name == beast_http::field::transfer_encoding) {
    ++transfer_encodings_;
    transfer_encoding_.assign(trim(value));
    std::transform(transfer_encoding_.begin(), transfer_encoding_.end(), transfer_encoding_.begin(), lower);
  } else if (name == beast_http::field::content_length) {
    content_length_ = true;
  }
}

// A body framed by anything but chunked (alone) or Content-Length is refused:
// guessing the framing is how requests are smuggled (RFC 9112 6.3).
void RequestParser::on_header_impl(error_code& ec) {
  if (!refusal_ && transfer_encodings_ > 0 &&
      (transfer_encodings_ != 1 || transfer_encoding_ != "chunked" || content_length_))
    refusal_ = error_response(domain::ErrorCode::invalid_request, "unsupported Transfer-Encoding");
  if (!refusal_ && version_ != 10 && version_ != 11) refusal_ = wrong_version();
  if (refusal_) ec = refused_error();
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
  if (content_length) request_.body.reserve(std::min<std::uint64_t>(*content_length, limits_.body_bytes));
}

std::size_t RequestParser::on_body_impl(beast_view body, error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, beast_view body, error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

std::optional<Response> failure_answer(const error_code& ec, std::string_view received) {
  using domain::ErrorCode;
  if (ec == beast_http::error::bad_version && names_another_version(received)) return wrong_version();
  if (ec == beast_http::error::body_limit) return error_response(ErrorCode::payload_too_large, "the request body is too large");
  if (ec == beast_http::error::header_limit)
    return with_status(error_response(ErrorCode::invalid_request, "the request headers are too large"), 431);
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
      ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message)
    return error_response(ErrorCode::invalid_request, "malformed HTTP request");
  return std::nullopt;
}

void assign_request_id(std::string& out, std::string_view given) {
  const bool usable = !given.empty() && given.size() <= 128 &&
                      std::all_of(given.begin(), given.end(), [](char c) { return c > 32 && c < 127; });
  if (usable) {
    out.assign(given);
    return;
  }
  // "<boot time>-<counter>", both in hex: unique within a run and across
  // restarts. Each thread takes its numbers from the shared counter a block
  // at a time, so that I/O threads do not pass its cache line to and fro,
  // and writes the boot time's digits once.
  constexpr std::uint64_t block = 1024;
  static std::atomic<std::uint64_t> next_block{0};
  static const std::uint64_t boot = static_cast<std::uint64_t>(::time(nullptr));
  struct Numbering {
    char text[40];
    std::size_t prefix = 0;  // "<boot time>-"
    std::uint64_t next = 0, end = 0;
  };
  thread_local Numbering numbering;
  Numbering& n = numbering;
  if (n.prefix == 0) {
    n.prefix = append_hex(n.text, boot);
    n.text[n.prefix++] = '-';
  }
  if (n.next == n.end) {
    n.next = next_block.fetch_add(block, std::memory_order_relaxed);
    n.end = n.next + block;
  }
  const std::size_t size = n.prefix + append_hex(n.text + n.prefix, n.next++);
  out.assign(n.text, size);
}

}  // namespace flashgate::gateway::http
