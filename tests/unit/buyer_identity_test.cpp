// Who the buyer of an intake is (issue #21): the three modes, and that a
// remembered token answers exactly what a verification would.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "domain/time.hpp"
#include "gateway/buyer_identity.hpp"

namespace {

using flashgate::gateway::BuyerAuthMode;
using flashgate::gateway::BuyerIdentity;
using flashgate::gateway::BuyerIdentitySettings;
using flashgate::gateway::Request;
using Kind = BuyerIdentity::Verdict::Kind;

class BuyerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-buyers-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    key_ = flashgate::identity::generate_ed25519_key();
    std::ofstream(dir_ / "jwks.json") << key_.public_jwks;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<BuyerIdentity> jwt_identity() {
    flashgate::identity::KeySourceSettings source;
    source.file = (dir_ / "jwks.json").string();
    BuyerIdentitySettings settings;
    settings.mode = BuyerAuthMode::jwt;
    settings.verify.leeway_s = 0;
    return std::make_unique<BuyerIdentity>(settings, std::make_unique<flashgate::identity::KeySource>(source));
  }

  std::string token(const std::string& user, std::int64_t exp) {
    std::string error;
    const auto claims = boost::json::serialize(boost::json::object{{"sub", user}, {"exp", exp}});
    auto signed_token = flashgate::identity::sign_jwt(key_.private_jwk, claims, error);
    EXPECT_TRUE(signed_token) << error;
    return signed_token.value_or("");
  }

  static Request with_header(const std::string& name, const std::string& value, const std::string& peer = "127.0.0.1") {
    Request request;
    request.client_address = peer;
    request.headers.emplace_back(name, value);
    return request;
  }

  std::filesystem::path dir_;
  flashgate::identity::GeneratedKey key_;
};

std::int64_t now_s() { return flashgate::domain::now_ms() / 1000; }

TEST_F(BuyerIdentityTest, NoneLeavesTheBuyerToTheBody) {
  BuyerIdentity identity(BuyerIdentitySettings{}, nullptr);
  EXPECT_EQ(identity.identify(with_header("authorization", "Bearer whatever")).kind, Kind::anonymous);
}

TEST_F(BuyerIdentityTest, AVerifiedTokenNamesTheBuyerAgainAndAgain) {
  auto identity = jwt_identity();
  const auto request = with_header("authorization", "Bearer " + token("alice", now_s() + 600));
  for (int i = 0; i < 3; ++i) {  // the first verifies, the others are remembered
    const auto verdict = identity->identify(request);
    ASSERT_EQ(verdict.kind, Kind::buyer);
    EXPECT_EQ(verdict.user_id, "alice");
  }
  // The scheme's case does not matter (RFC 7235).
  EXPECT_EQ(identity->identify(with_header("authorization", "bearer " + token("bob", now_s() + 600))).user_id, "bob");
}

TEST_F(BuyerIdentityTest, ARememberedTokenExpiresLikeAnyOther) {
  auto identity = jwt_identity();
  const auto request = with_header("authorization", "Bearer " + token("carol", now_s() + 1));
  ASSERT_EQ(identity->identify(request).kind, Kind::buyer);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(identity->identify(request).kind, Kind::refused) << "not answered from memory past its exp";
}

TEST_F(BuyerIdentityTest, AnAlteredTokenIsNeverFoundInMemory) {
  auto identity = jwt_identity();
  const std::string good = token("dave", now_s() + 600);
  ASSERT_EQ(identity->identify(with_header("authorization", "Bearer " + good)).kind, Kind::buyer);
  std::string altered = good;
  altered[altered.size() - 2] = altered[altered.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(identity->identify(with_header("authorization", "Bearer " + altered)).kind, Kind::refused);
}

TEST_F(BuyerIdentityTest, NoTokenOrAnotherSchemeIsRefusedAndAnUnknownKidAsksForKeys) {
  auto identity = jwt_identity();
  Request bare;
  EXPECT_EQ(identity->identify(bare).kind, Kind::refused);
  EXPECT_EQ(identity->identify(with_header("authorization", "Basic YTpi")).kind, Kind::refused);
  auto other = flashgate::identity::generate_ed25519_key();  // its kid is not in our set
  std::string error;
  const auto foreign = flashgate::identity::sign_jwt(
      other.private_jwk, boost::json::serialize(boost::json::object{{"sub", "eve"}, {"exp", now_s() + 600}}), error);
  ASSERT_TRUE(foreign) << error;
  EXPECT_EQ(identity->identify(with_header("authorization", "Bearer " + *foreign)).kind, Kind::unknown_key);
}

TEST_F(BuyerIdentityTest, HeaderModeBelievesOnlyTrustedProxies) {
  BuyerIdentitySettings settings;
  settings.mode = BuyerAuthMode::header;
  settings.user_header = "X-User-Id";
  settings.trusted_proxies = {"10.0.0.7"};
  BuyerIdentity identity(settings, nullptr);
  const auto verdict = identity.identify(with_header("x-user-id", "frank", "10.0.0.7"));
  ASSERT_EQ(verdict.kind, Kind::buyer);
  EXPECT_EQ(verdict.user_id, "frank");
  EXPECT_EQ(identity.identify(with_header("x-user-id", "frank", "10.0.0.8")).kind, Kind::refused);
  EXPECT_EQ(identity.identify(with_header("x-user-id", "not valid!", "10.0.0.7")).kind, Kind::refused);
  EXPECT_EQ(identity.identify(with_header("x-other", "frank", "10.0.0.7")).kind, Kind::refused);
}

}  // namespace
