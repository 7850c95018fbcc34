#include "identity/jwks.hpp"

#include <gtest/gtest.h>

#include "domain/base64url.hpp"
#include "jwt_vectors.hpp"

namespace flashgate::identity {
namespace {

boost::json::object vector_key(std::string_view kid) {
  for (const auto& key : jwt_vectors().at("jwks").at("keys").as_array())
    if (key.at("kid").as_string() == kid) return key.as_object();
  throw std::runtime_error("no key " + std::string(kid));
}

std::string jwks_of(boost::json::array keys) {
  boost::json::object jwks;
  jwks["keys"] = std::move(keys);
  return boost::json::serialize(jwks);
}

std::string b64(const std::vector<unsigned char>& bytes) {
  std::string out(domain::base64url_length(bytes.size()), '\0');
  domain::encode_base64url(bytes.data(), bytes.size(), out.data());
  return out;
}

std::vector<unsigned char> bytes_of(std::string_view text) {
  std::vector<unsigned char> out(text.size());
  out.resize(domain::decode_base64url(text, out.data()).value());
  return out;
}

// One key alone in a JWKS: the reason it was skipped, or "" if it was kept.
std::string skip_reason(const boost::json::value& key) {
  std::string error;
  std::vector<std::string> skipped;
  const auto set = KeySet::parse(jwks_of({key}), error, &skipped);
  if (!set) return "not a JWKS: " + error;
  if (set->size() == 1 && skipped.empty()) return "";
  if (set->size() == 0 && skipped.size() == 1) return skipped[0];
  return "kept and skipped?";
}

template <class... Changes>
boost::json::object changed(boost::json::object key, Changes... changes) {
  for (const auto& [name, value] : {changes...}) {
    if (value.is_null())
      key.erase(name);
    else
      key[name] = value;
  }
  return key;
}
using Change = std::pair<std::string_view, boost::json::value>;

TEST(Jwks, TheKeysOfPyJwtAreReadWithTheirAlgorithms) {
  std::string error;
  std::vector<std::string> skipped;
  const auto set = KeySet::parse(jwt_vectors_text("jwks"), error, &skipped);
  ASSERT_TRUE(set) << error;
  ASSERT_EQ(set->size(), 4u);
  EXPECT_EQ(set->keys()[0].alg(), JwsAlg::rs256);
  EXPECT_EQ(set->keys()[1].alg(), JwsAlg::es256);  // no "alg" in the JWK: P-256 implies it
  EXPECT_EQ(set->keys()[2].alg(), JwsAlg::eddsa);
  EXPECT_EQ(set->keys()[3].alg(), JwsAlg::hs256);
  for (const char* kid : {"rsa-1", "ec-1", "ed-1", "hs-1"}) EXPECT_TRUE(set->has_kid(kid)) << kid;
  EXPECT_FALSE(set->has_kid("rsa-small"));
  EXPECT_FALSE(set->has_kid(""));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0], "key 4 (kid \"rsa-small\"): RSA key of 1024 bits is under 2048");
  // Without a list of skipped keys, the same keys.
  EXPECT_EQ(KeySet::parse(jwt_vectors_text("jwks"), error)->size(), 4u);
}

TEST(Jwks, DocumentsThatAreNotAJwksAreRefused) {
  for (const std::string& text : {std::string(), std::string("not json"), std::string("[]"), std::string("{}"),
                                  std::string(R"({"keys":{}})"), std::string(R"({"keys":null})"),
                                  std::string(R"({"keys":[]} [])"), std::string(R"({"keys":[],"keys":[]})"),
                                  std::string(R"({"keys":[{"kty":"oct","kty":"RSA"}]})"),
                                  R"({"keys":[],"pad":")" + std::string(1 << 20, 'x') + "\"}",
                                  std::string("{\"keys\":[],\"x\":\"\xc3\"}")}) {
    SCOPED_TRACE(text.substr(0, 60));
    std::string error;
    EXPECT_FALSE(KeySet::parse(text, error));
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  const auto empty = KeySet::parse(R"({"keys":[]})", error);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
}

TEST(Jwks, EachKeyTypeIsKept) {
  for (const char* kid : {"rsa-1", "ec-1", "ed-1", "hs-1"}) {
    SCOPED_TRACE(kid);
    EXPECT_EQ(skip_reason(vector_key(kid)), "");
    EXPECT_EQ(skip_reason(changed(vector_key(kid), Change{"kid", nullptr}, Change{"use", nullptr})), "");
  }
  // A modulus with a leading zero byte (some encoders write one) is the same modulus.
  auto n = bytes_of(vector_key("rsa-1").at("n").as_string());
  n.insert(n.begin(), 0);
  EXPECT_EQ(skip_reason(changed(vector_key("rsa-1"), Change{"n", b64(n).c_str()})), "");
  // Members flashgate has no use for are ignored.
  EXPECT_EQ(skip_reason(changed(vector_key("ed-1"), Change{"x5t", "abc"}, Change{"ext", true})), "");
  EXPECT_EQ(skip_reason(changed(vector_key("ed-1"), Change{"key_ops", boost::json::array{"verify", "sign"}})), "");
}

TEST(Jwks, KeysFlashgateCannotUseAreSkippedWithAReason) {
  const auto rsa = vector_key("rsa-1"), ec = vector_key("ec-1"), ed = vector_key("ed-1"), hs = vector_key("hs-1");
  auto off_curve_y = bytes_of(ec.at("y").as_string());
  off_curve_y[31] ^= 1;
  auto even_e = std::vector<unsigned char>{1, 0, 0};
  std::vector<unsigned char> small_order(32, 0);
  small_order[0] = 1;  // the neutral point
  const std::vector<std::pair<boost::json::value, std::string>> cases = {
      {42, "key 0: not a JSON object"},
      {changed(rsa, Change{"kty", nullptr}), "key 0 (kid \"rsa-1\"): no kty"},
      {changed(rsa, Change{"kty", "rsa"}), "key 0 (kid \"rsa-1\"): kty \"rsa\" is not supported"},
      {changed(ec, Change{"crv", "P-384"}), "key 0 (kid \"ec-1\"): EC curve \"P-384\" is not supported"},
      {changed(ec, Change{"crv", nullptr}), "key 0 (kid \"ec-1\"): EC curve (none) is not supported"},
      {changed(ed, Change{"crv", "X25519"}), "key 0 (kid \"ed-1\"): OKP curve \"X25519\" is not supported"},
      {changed(ed, Change{"crv", "Ed448"}), "key 0 (kid \"ed-1\"): OKP curve \"Ed448\" is not supported"},
      {changed(ed, Change{"use", "enc"}), "key 0 (kid \"ed-1\"): use is not \"sig\""},
      {changed(ed, Change{"use", true}), "key 0 (kid \"ed-1\"): use is not \"sig\""},
      {changed(rsa, Change{"key_ops", boost::json::array{"encrypt"}}),
       "key 0 (kid \"rsa-1\"): key_ops does not allow \"verify\""},
      {changed(rsa, Change{"key_ops", "verify"}), "key 0 (kid \"rsa-1\"): key_ops does not allow \"verify\""},
      {changed(rsa, Change{"alg", "RS384"}), "key 0 (kid \"rsa-1\"): alg is not one of RS256, ES256, EdDSA, HS256"},
      {changed(rsa, Change{"alg", "none"}), "key 0 (kid \"rsa-1\"): alg is not one of RS256, ES256, EdDSA, HS256"},
      {changed(rsa, Change{"alg", 256}), "key 0 (kid \"rsa-1\"): alg is not one of RS256, ES256, EdDSA, HS256"},
      // The key of algorithm confusion: an RSA key offered for HMAC.
      {changed(rsa, Change{"alg", "HS256"}), "key 0 (kid \"rsa-1\"): alg HS256 does not fit the key (RS256)"},
      {changed(hs, Change{"alg", "RS256"}), "key 0 (kid \"hs-1\"): alg RS256 does not fit the key (HS256)"},
      {changed(ed, Change{"alg", "ES256"}), "key 0 (kid \"ed-1\"): alg ES256 does not fit the key (EdDSA)"},
      {changed(rsa, Change{"kid", 7}), "key 0: kid is not a string"},
      {changed(rsa, Change{"n", nullptr}), "key 0 (kid \"rsa-1\"): n or e missing or not base64url"},
      {changed(rsa, Change{"e", "AQAB=="}), "key 0 (kid \"rsa-1\"): n or e missing or not base64url"},
      {changed(rsa, Change{"e", b64(even_e).c_str()}),
       "key 0 (kid \"rsa-1\"): RSA exponent is not odd, above 1 and at most 64 bits"},
      {changed(rsa, Change{"e", "AQ"}), "key 0 (kid \"rsa-1\"): RSA exponent is not odd, above 1 and at most 64 bits"},
      {changed(rsa, Change{"e", "AQAAAAAAAAAB"}),
       "key 0 (kid \"rsa-1\"): RSA exponent is not odd, above 1 and at most 64 bits"},
      {changed(ec, Change{"y", b64(off_curve_y).c_str()}), "key 0 (kid \"ec-1\"): P-256 point is not on the curve"},
      {changed(ec, Change{"x", "AAAA"}), "key 0 (kid \"ec-1\"): P-256 coordinates are not 32 bytes each"},
      {changed(ec, Change{"y", 1}), "key 0 (kid \"ec-1\"): x or y missing or not base64url"},
      {changed(ed, Change{"x", "AAAA"}), "key 0 (kid \"ed-1\"): Ed25519 key is not 32 bytes"},
      {changed(ed, Change{"x", b64(small_order).c_str()}),
       "key 0 (kid \"ed-1\"): Ed25519 key is not a valid point of main order"},
      {changed(hs, Change{"k", "c2hvcnQgc2VjcmV0"}), "key 0 (kid \"hs-1\"): HS256 secret of 12 bytes is under 32"},
      {changed(hs, Change{"k", "a+b/"}), "key 0 (kid \"hs-1\"): k missing or not base64url"},
      {changed(rsa, Change{"kid", "a\"b\nc"}, Change{"n", nullptr}), "key 0 (kid \"a?b?c\"): n or e missing or not base64url"},
  };
  for (const auto& [key, reason] : cases) {
    SCOPED_TRACE(boost::json::serialize(key).substr(0, 120));
    EXPECT_EQ(skip_reason(key), reason);
  }
}

TEST(Jwks, SkippedLinesCarryNoKeyMaterial) {
  std::string error;
  std::vector<std::string> skipped;
  const auto hs = changed(vector_key("hs-1"), Change{"k", "c2hvcnQgc2VjcmV0"}, Change{"kid", std::string(100, 'k').c_str()});
  const auto set = KeySet::parse(jwks_of({hs, changed(vector_key("rsa-1"), Change{"alg", "HS256"})}), error, &skipped);
  ASSERT_TRUE(set);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].find("c2hvcnQgc2VjcmV0"), std::string::npos);
  EXPECT_LT(skipped[0].size(), 120u);  // the kid is cut short
  EXPECT_EQ(skipped[1].find(std::string(vector_key("rsa-1").at("n").as_string()).substr(0, 20)), std::string::npos);
}

TEST(Jwks, AlgNamesRoundTripAndNoneIsNoAlgorithm) {
  for (JwsAlg alg : {JwsAlg::rs256, JwsAlg::es256, JwsAlg::eddsa, JwsAlg::hs256})
    EXPECT_EQ(alg_from_name(alg_name(alg)), alg);
  for (const char* name : {"none", "None", "NONE", "", "rs256", "HS384", "ES256K", "Ed25519", "PS256"})
    EXPECT_FALSE(alg_from_name(name)) << name;
}

TEST(Jwks, AKeySetIsCheapToCopyAndShare) {
  std::string error;
  const auto set = KeySet::parse(jwt_vectors_text("jwks"), error);
  ASSERT_TRUE(set);
  const auto shared = std::make_shared<const KeySet>(*set);
  EXPECT_EQ(shared->size(), set->size());
  EXPECT_TRUE(shared->has_kid("rsa-1"));
}

}  // namespace
}  // namespace flashgate::identity
