// The HTTP layer in process: requests split at every byte, limits, garbage.
#include <gtest/gtest.h>

#include "../support/in_process_app.hpp"

namespace {

using flashgate::testing::InProcessApp;

std::string create_sale_request(const std::string& sale_id, int stock) {
  const std::string body = "{\"sale_id\":\"" + sale_id + "\",\"item\":\"thing\",\"stock\":" + std::to_string(stock) + "}";
  return "POST /api/admin/sales HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-admin-token\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string intake_request(const std::string& sale_id, const std::string& user) {
  const std::string body = "{\"user_id\":\"" + user + "\"}";
  return "POST /api/sales/" + sale_id + "/orders HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

int status_of(const std::string& answer) {
  if (answer.size() < 12) return 0;
  return std::stoi(answer.substr(9, 3));
}

class ServeBytes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { app_ = new InProcessApp(); }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
  }
  static InProcessApp* app_;
};
InProcessApp* ServeBytes::app_ = nullptr;

TEST_F(ServeBytes, AnIntakeSplitAtEveryByteIsParsedTheSame) {
  ASSERT_EQ(status_of(app_->serve(create_sale_request("split", 1000))), 201);
  for (std::size_t cut = 1;; ++cut) {
    const std::string request = intake_request("split", "user-" + std::to_string(cut));
    if (cut >= request.size()) break;
    const std::string_view view(request);
    const auto answer = flashgate::gateway::serve_pieces(app_->router, {view.substr(0, cut), view.substr(cut)},
                                                         app_->limits);
    ASSERT_EQ(status_of(answer), 202) << "cut at " << cut << ":\n" << answer;
  }
}

TEST_F(ServeBytes, ARequestByteByByteIsParsed) {
  ASSERT_EQ(status_of(app_->serve(create_sale_request("bytes", 5))), 201);
  const std::string request = intake_request("bytes", "one-byte-at-a-time");
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < request.size(); ++i) pieces.push_back(std::string_view(request).substr(i, 1));
  EXPECT_EQ(status_of(flashgate::gateway::serve_pieces(app_->router, pieces, app_->limits)), 202);
}

TEST_F(ServeBytes, AnIncompleteRequestGetsNoAnswer) {
  EXPECT_EQ(app_->serve("POST /api/sales/x/orders HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"user"), "");
}

TEST_F(ServeBytes, GarbageIsA400) {
  EXPECT_EQ(status_of(app_->serve("\x01\x02garbage\r\n\r\n")), 400);
  EXPECT_EQ(status_of(app_->serve("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")), 400);
  EXPECT_EQ(status_of(app_->serve("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")), 400);
}

TEST_F(ServeBytes, UnknownHttpVersionsAre505) {
  EXPECT_EQ(status_of(app_->serve("GET /healthz HTTP/2.0\r\n\r\n")), 505);
  EXPECT_EQ(status_of(app_->serve("GET /healthz HTTP/1.2\r\n\r\n")), 505);
}

TEST_F(ServeBytes, LimitsAnswer413And414And431) {
  const std::string big_body(app_->limits.body_bytes + 1, 'x');
  EXPECT_EQ(status_of(app_->serve("POST /api/sales/x/orders HTTP/1.1\r\nContent-Length: " +
                                  std::to_string(big_body.size()) + "\r\n\r\n" + big_body)),
            413);
  EXPECT_EQ(status_of(app_->serve("GET /" + std::string(app_->limits.url_bytes + 1, 'a') + " HTTP/1.1\r\n\r\n")),
            414);
  EXPECT_EQ(status_of(app_->serve("GET / HTTP/1.1\r\nX-Big: " + std::string(app_->limits.header_bytes, 'a') +
                                  "\r\n\r\n")),
            431);
}

// Beast's parser counts the header limit per call and hands back the request
// line on its own: a header arriving in pieces must still be held to it.
TEST_F(ServeBytes, AHeaderOverTheLimitInPiecesIs431) {
  std::string request = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; request.size() < app_->limits.header_bytes + 100; ++i) request += "X-P" + std::to_string(i) + ": v\r\n";
  request += "\r\n";
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < request.size(); at += 700) pieces.push_back(std::string_view(request).substr(at, 700));
  EXPECT_EQ(status_of(flashgate::gateway::serve_pieces(app_->router, pieces, app_->limits)), 431);
}

// Found by the black-box suite: one long field split where a connection's
// read splits it left Beast waiting for more, and the connection unanswered.
TEST_F(ServeBytes, AFieldOverTheLimitSplitAtTheReadSizeIs431) {
  auto limits = app_->limits;
  limits.header_bytes = 2048;
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(3000, 'p') + "\r\n\r\n";
  const std::string_view view(request);
  EXPECT_EQ(status_of(flashgate::gateway::serve_pieces(app_->router, {view.substr(0, 2048), view.substr(2048)}, limits)),
            431);
  const std::string fits = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(1000, 'p') + "\r\n\r\n";
  EXPECT_EQ(status_of(flashgate::gateway::serve_pieces(app_->router, {std::string_view(fits).substr(0, 600),
                                                                      std::string_view(fits).substr(600)},
                                                       limits)),
            200);
}

TEST_F(ServeBytes, HeadKeepsTheLengthOfGetWithoutTheBody) {
  const auto answer = app_->serve("HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(answer), 200);
  EXPECT_NE(answer.find("Content-Length: 15\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.substr(answer.size() - 4), "\r\n\r\n") << answer;
}

TEST_F(ServeBytes, MethodNotAllowedNamesTheAllowedOnes) {
  const auto answer = app_->serve("DELETE /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(answer), 405);
  EXPECT_NE(answer.find("Allow: GET"), std::string::npos);
}

TEST_F(ServeBytes, AnEncodedSlashStaysInsideItsSegment) {
  EXPECT_EQ(status_of(app_->serve("GET /api/sales/a%2Fb HTTP/1.1\r\n\r\n")), 400);
  EXPECT_EQ(status_of(app_->serve("GET /api/sales/%zz HTTP/1.1\r\n\r\n")), 400);
}

}  // namespace

namespace {

// Found by fuzz_query: an empty, unterminated query was measured with strlen.
TEST(QueryParam, AnUnterminatedQueryIsReadWithinItsLength) {
  const char text[] = {'t', 'i', 'c', 'k', 'e', 't', '=', 'a', 'b'};
  std::string decoded;
  EXPECT_EQ(flashgate::gateway::QueryParams(std::string_view(text, 7)).get("ticket", decoded), std::string_view());
  EXPECT_EQ(flashgate::gateway::QueryParams(std::string_view(text, 0)).get("ticket", decoded), std::nullopt);
  EXPECT_EQ(flashgate::gateway::QueryParams(std::string_view(text, 9)).get("ticket", decoded), std::string_view("ab"));
}

}  // namespace
