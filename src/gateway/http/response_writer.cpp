#include "gateway/http/response_writer.hpp"

#include <charconv>
#include <cstring>

namespace flashgate::gateway::http {

namespace {

void append_number(std::string& out, std::size_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void append_status_line(std::string& out, unsigned version, int status) {
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_number(out, static_cast<std::size_t>(status));
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

// Written through a pointer into room sized for the whole answer: the
// dozen appends this was, each with its own capacity check and memcpy
// call, cost more than the bytes they copied.
void append_response(std::string& out, const Response& response, unsigned version, bool keep_alive, bool head,
                     std::string_view request_id) {
  const std::string_view reason = reason_phrase(response.status);
  // The fixed text, the longest Connection field and the widest numbers are
  // 136 bytes; the rest is counted.
  std::size_t room = 160 + reason.size() + request_id.size() + response.content_type.size() + response.body.size();
  for (const auto& [name, value] : response.headers) room += name.size() + value.size() + 4;
  const std::size_t start = out.size();
  out.resize(start + room);
  char* p = out.data() + start;
  const auto put = [&p](std::string_view text) {
    if (!text.empty()) std::memcpy(p, text.data(), text.size());  // an empty view's data() may be null
    p += text.size();
  };
  const auto field = [&put](std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  };
  put(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  p = std::to_chars(p, p + 11, response.status).ptr;
  *p++ = ' ';
  put(reason);
  put("\r\nServer: flashgate\r\n");
  if (!request_id.empty()) field("X-Request-Id", request_id);
  field("Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) field(name, value);
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes unless told.
  if (version == 10 && keep_alive) put("Connection: keep-alive\r\n");
  if (version != 10 && !keep_alive) put("Connection: close\r\n");
  put("Content-Length: ");
  p = std::to_chars(p, p + 20, response.body.size()).ptr;
  put("\r\n\r\n");
  if (!head) put(response.body);
  out.resize(static_cast<std::size_t>(p - out.data()));
}

std::string stream_head(const Response& head, std::string_view request_id) {
  std::string raw;
  append_status_line(raw, 11, head.status);
  raw += "Server: flashgate\r\n";
  append_field(raw, "Content-Type", head.content_type);
  for (const auto& [name, value] : head.headers) append_field(raw, name, value);
  append_field(raw, "X-Request-Id", request_id);
  raw += "Connection: close\r\n\r\n";
  return raw;
}

}  // namespace flashgate::gateway::http
