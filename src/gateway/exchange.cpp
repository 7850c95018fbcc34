#include "gateway/exchange.hpp"

#include "gateway/json_writer.hpp"

namespace flashgate::gateway {

std::string_view Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return {};
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params)
    if (key == name) return value;
  return {};
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response error_response(domain::ErrorCode code, std::string message) {
  std::string body = "{\"error\":\"";
  body += domain::error_name(code);
  body += "\",\"message\":";
  append_json_string(body, message);
  body += '}';
  Response r = json_response(domain::http_status(code), std::move(body));
  if (code == domain::ErrorCode::shutting_down || code == domain::ErrorCode::unavailable)
    r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response retry_response(domain::ErrorCode code, std::string message, std::int64_t retry_after_s) {
  Response r = error_response(code, std::move(message));
  if (r.headers.empty()) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

Response error_response(const domain::Error& error) {
  if (!error.remaining) return error_response(error.code, error.message);
  std::string body = "{\"error\":\"";
  body += domain::error_name(error.code);
  body += "\",\"message\":";
  append_json_string(body, error.message);
  body += ",\"remaining\":";
  body += std::to_string(*error.remaining);
  body += '}';
  return json_response(domain::http_status(error.code), std::move(body));
}

}  // namespace flashgate::gateway
