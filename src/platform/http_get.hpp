#pragma once
// A blocking HTTP(S) GET for background tasks (the JWKS of a buyer's login):
// one request, one connection, bounded by a timeout. Never on an I/O thread.
#include <chrono>
#include <string>

namespace flashgate::platform {

struct HttpGetResult {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string body;   // at most max_body bytes
  std::string error;  // why there is no answer; never a secret
};

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};  // the whole exchange
  std::size_t max_body = 1024 * 1024;
  std::string ca_file;  // https: a CA bundle to trust instead of the system's
};

// http://host[:port]/path or https://...; certificates and host names are verified.
HttpGetResult http_get(const std::string& url, const HttpGetOptions& options = {});

}  // namespace flashgate::platform
