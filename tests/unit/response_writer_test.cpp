// The bytes of an answer, as a client reads them.
#include <gtest/gtest.h>

#include "gateway/http/response_writer.hpp"

namespace {

using flashgate::gateway::Response;
using flashgate::gateway::http::append_response;
using flashgate::gateway::http::stream_head;

Response answer(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ResponseWriter, AnHttp11AnswerKeepsTheConnectionWithoutSayingSo) {
  std::string out;
  append_response(out, answer(202, "{}"), 11, true, false, "rid-1");
  EXPECT_EQ(out,
            "HTTP/1.1 202 Accepted\r\nServer: flashgate\r\nX-Request-Id: rid-1\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(ResponseWriter, ClosingIsAnnouncedInHttp11AndKeepingInHttp10) {
  std::string closing;
  append_response(closing, answer(200, "x"), 11, false, false, "r");
  EXPECT_NE(closing.find("Connection: close\r\n"), std::string::npos);
  std::string kept;
  append_response(kept, answer(200, "x"), 10, true, false, "r");
  EXPECT_EQ(kept.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_NE(kept.find("Connection: keep-alive\r\n"), std::string::npos);
  std::string closed10;
  append_response(closed10, answer(200, "x"), 10, false, false, "r");
  EXPECT_EQ(closed10.find("Connection:"), std::string::npos);
}

TEST(ResponseWriter, ExtraHeadersAndHeadAnswers) {
  Response r = answer(503, R"({"error":"unavailable"})");
  r.headers.emplace_back("Retry-After", "1");
  std::string out;
  append_response(out, r, 11, true, true, "r");
  EXPECT_NE(out.find("HTTP/1.1 503 Service Unavailable\r\n"), std::string::npos);
  EXPECT_NE(out.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Length: 23\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");  // HEAD: no body
}

// The longest fixed text (HTTP/1.0 keeping the connection), a long id, many
// fields and a large body: every byte where it belongs, nothing past it.
TEST(ResponseWriter, TheLongestAnswerIsWrittenWhole) {
  Response r = answer(505, std::string(100000, 'b'));
  r.content_type = "text/plain; charset=utf-8";
  std::string fields;
  for (int i = 0; i < 50; ++i) {
    r.headers.emplace_back("X-Field-" + std::to_string(i), std::string(i, 'v'));
    fields += "X-Field-" + std::to_string(i) + ": " + std::string(i, 'v') + "\r\n";
  }
  const std::string id(128, 'i');
  std::string out = "before";
  append_response(out, r, 10, true, false, id);
  EXPECT_EQ(out, "beforeHTTP/1.0 505 HTTP Version Not Supported\r\nServer: flashgate\r\nX-Request-Id: " + id +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\n" + fields +
                     "Connection: keep-alive\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b'));
}

TEST(ResponseWriter, AppendsAfterWhatIsThere) {
  std::string out = "previous";
  append_response(out, answer(404, ""), 11, true, false, "");
  EXPECT_EQ(out.rfind("previousHTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(out.find("X-Request-Id"), std::string::npos);
}

TEST(ResponseWriter, AStreamHeadHasNoLengthAndCloses) {
  Response head;
  head.content_type = "text/event-stream";
  head.headers = {{"Cache-Control", "no-cache"}};
  const auto raw = stream_head(head, "rid");
  EXPECT_EQ(raw.find("Content-Length"), std::string::npos);
  EXPECT_NE(raw.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(raw.find("Cache-Control: no-cache\r\n"), std::string::npos);
  EXPECT_NE(raw.find("X-Request-Id: rid\r\n"), std::string::npos);
  EXPECT_EQ(raw.substr(raw.size() - 21), "Connection: close\r\n\r\n");
}

}  // namespace

namespace {

TEST(RetryResponse, CarriesRetryAfterOnce) {
  const auto r = flashgate::gateway::retry_response(flashgate::domain::ErrorCode::too_many_requests, "slow down", 3);
  EXPECT_EQ(r.status, 429);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Retry-After", "3"}));
  // 503s carry their own Retry-After already: not a second one.
  const auto unavailable = flashgate::gateway::retry_response(flashgate::domain::ErrorCode::unavailable, "later", 5);
  EXPECT_EQ(unavailable.headers.size(), 1u);
}

}  // namespace
