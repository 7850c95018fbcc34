#pragma once
// A POST of a JSON body to one http(s) URL over a keep-alive connection the
// caller owns, bounded by a timeout: what the order sink and the event sink
// have in common. Blocking; the caller's thread runs the connection's loop.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace flashgate::sink {

struct HttpSinkSettings {
  std::string url;  // http:// or https://
  std::string secret;
  std::chrono::milliseconds timeout{5000};  // one call: connect, TLS, request and reply
  std::string ca_file;                      // https: a CA bundle to trust instead of the system's
};

// What came back: an HTTP answer (status > 0) or, with error set, none.
struct PostReply {
  int status = 0;
  std::string body;
  bool body_cut = false;  // larger than max_reply_body: not read to the end
  std::string error;      // no complete HTTP answer: why, for the log
};

class HttpPoster {
 public:
  struct Target;
  struct Connection;
  // Defined where Connection is complete, so a slot can live anywhere.
  struct ConnectionDeleter {
    void operator()(Connection* connection) const;
  };
  // One caller's connection, kept alive between calls; empty until the first.
  using ConnectionSlot = std::unique_ptr<Connection, ConnectionDeleter>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Throws std::invalid_argument for a URL that is not http(s) or a CA file
  // that cannot be read; `setting` names the URL's setting in the message.
  HttpPoster(const std::string& url, const std::string& ca_file, std::chrono::milliseconds timeout,
             const std::string& setting);
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  // Content-Type, Accept, Host and User-Agent are set here. A kept-alive
  // connection the server closed meanwhile is replaced and the call made once
  // more, so the receiver must be idempotent (both sinks are keyed).
  PostReply post(ConnectionSlot& slot, const Headers& headers, const std::string& body) const;

 private:
  std::unique_ptr<Target> target_;
  std::chrono::milliseconds timeout_;
};

}  // namespace flashgate::sink
