#include "identity/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sodium.h>

#include <set>
#include <vector>

#include "domain/base64url.hpp"
#include "jwt_vectors.hpp"

namespace flashgate::identity {
namespace {

const KeySet& vector_keys() {
  static const KeySet keys = [] {
    std::string error;
    auto parsed = KeySet::parse(jwt_vectors_text("jwks"), error);
    if (!parsed) throw std::runtime_error(error);
    return *parsed;
  }();
  return keys;
}

VerifyOptions vector_options() {
  VerifyOptions options;
  options.issuer = jwt_vectors_text("issuer");
  options.audience = jwt_vectors_text("audience");
  return options;
}

std::int64_t vector_now() { return jwt_vectors().at("now").as_int64(); }

std::string vector_token(std::string_view name) {
  for (const auto& t : jwt_vectors().at("tokens").as_array())
    if (t.at("name").as_string() == name) return std::string(t.at("token").as_string());
  throw std::runtime_error("no vector " + std::string(name));
}

JwtResult verify(std::string_view token, const VerifyOptions& options = vector_options()) {
  return verify_jwt(token, vector_keys(), options, vector_now());
}

std::string outcome(const JwtResult& r) { return r.buyer ? "ok" : std::string(error_name(r.error)); }

std::string b64(std::string_view text) {
  std::string out(domain::base64url_length(text.size()), '\0');
  domain::encode_base64url(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

// Header and claims as given, signed by hand with the HS256 secret of the vectors.
std::string hand_signed(std::string_view header,
                        std::string_view claims = R"({"sub":"buyer-42","iss":"https://shop.example","aud":"flashgate","exp":4102444800})") {
  const std::string k(jwt_vectors().at("hs_private").at("k").as_string());
  std::vector<unsigned char> secret(k.size());
  secret.resize(*domain::decode_base64url(k, secret.data()));
  const std::string input = b64(header) + "." + b64(claims);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, secret.data(), secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

// Claims signed with the HS256 key of the vectors, by sign_jwt.
std::string hs_token(std::string_view claims) {
  std::string error;
  auto token = sign_jwt(jwt_vectors_text("hs_private"), claims, error);
  if (!token) throw std::runtime_error(error);
  return *token;
}

// Every token PyJWT made, accepted or refused as the generator says.
TEST(Jwt, TokensOfPyJwtAsTheGeneratorExpects) {
  for (const auto& t : jwt_vectors().at("tokens").as_array()) {
    const std::string name(t.at("name").as_string());
    SCOPED_TRACE(name);
    const auto result = verify(t.at("token").as_string());
    EXPECT_EQ(outcome(result), t.at("expect").as_string());
    if (result.buyer) {
      EXPECT_EQ(result.buyer->user_id, t.at("user").as_string());
      EXPECT_GE(result.buyer->expires_at, vector_now() - 30);
    }
  }
}

TEST(Jwt, EveryAlgorithmOfPyJwtVerifies) {
  for (const char* name : {"rs256", "es256", "eddsa", "hs256"}) {
    SCOPED_TRACE(name);
    const auto result = verify(vector_token(name));
    ASSERT_TRUE(result.buyer) << error_name(result.error);
    EXPECT_EQ(result.buyer->user_id, "buyer-42");
    EXPECT_EQ(result.buyer->expires_at, 4102444800);
  }
}

TEST(Jwt, AForgedSignatureOrPayloadIsRefusedInEveryAlgorithm) {
  for (const char* name : {"rs256", "es256", "eddsa", "hs256"}) {
    SCOPED_TRACE(name);
    const std::string token = vector_token(name);
    const std::size_t signature = token.rfind('.') + 1;
    std::string forged = token;
    forged[signature + 5] = forged[signature + 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(outcome(verify(forged)), "bad_signature");
    std::string tampered = token;
    const std::size_t payload = token.find('.') + 1;
    tampered[payload + 10] = tampered[payload + 10] == 'A' ? 'B' : 'A';
    EXPECT_EQ(outcome(verify(tampered)), "bad_signature");
    EXPECT_EQ(outcome(verify(token.substr(0, signature))), "bad_signature");  // no signature at all
  }
}

TEST(Jwt, AFailedOpenSslVerificationLeavesNoErrorBehind) {
  ERR_clear_error();
  for (const char* name : {"rs256", "es256"}) {
    std::string forged = vector_token(name);
    char& c = forged[forged.rfind('.') + 3];
    c = c == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify(forged).buyer);
    EXPECT_EQ(ERR_peek_error(), 0u) << name;
  }
}

TEST(Jwt, AnUnknownKidIsReportedWithTheKid) {
  const auto result = verify(vector_token("unknown kid"));
  EXPECT_FALSE(result.buyer);
  EXPECT_EQ(result.error, JwtError::unknown_kid);
  EXPECT_EQ(result.kid, "nope");
  EXPECT_TRUE(verify(vector_token("rs256")).kid.empty());
}

TEST(Jwt, OversizedTokensAreRefusedBeforeParsing) {
  const std::string token = vector_token("hs256");
  const std::string padded = token.substr(0, token.find('.')) + "." + std::string(16 * 1024, 'A') + "." +
                             token.substr(token.rfind('.') + 1);
  EXPECT_EQ(outcome(verify(padded)), "malformed");
  EXPECT_EQ(outcome(verify(std::string(max_token_bytes + 1, 'A'))), "malformed");
}

TEST(Jwt, TokensNotOfThreeCanonicalBase64urlPartsAreMalformed) {
  const std::string token = vector_token("hs256");
  const std::size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string header = token.substr(0, dot1), payload = token.substr(dot1 + 1, dot2 - dot1 - 1),
                    signature = token.substr(dot2 + 1);
  ASSERT_EQ(signature.size(), 43u);  // 32 bytes: one padding '=' in base64
  for (const std::string& bad : {
           std::string(), std::string(".."), std::string("..."), header + "." + payload,
           token + ".", token + "." + signature, header + "=." + payload + "." + signature,
           token + "=",                                              // padding
           header + "." + payload + "." + signature.substr(0, 42) + "B",  // non-zero unused bits
           header + "." + payload + "+." + signature, header + "." + payload + "/." + signature,
           " " + token, token + " ", header + ". " + payload + "." + signature,
           header + "." + payload + "." + signature.substr(0, 41),  // length 1 mod 4 is no length
       }) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(outcome(verify(bad)), "malformed");
  }
}

TEST(Jwt, HeadersThatAreNotPlainJwtHeadersAreRefused) {
  const auto with_header = [](std::string_view header) { return outcome(verify(hand_signed(header))); };
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1"})"), "ok");  // the signing by hand works
  EXPECT_EQ(with_header(R"({"alg":"none"})"), "unsupported_alg");
  EXPECT_EQ(with_header(R"({"alg":"none","kid":"hs-1"})"), "unsupported_alg");
  EXPECT_EQ(with_header(R"({"alg":""})"), "unsupported_alg");
  EXPECT_EQ(with_header(R"({"alg":"hs256"})"), "unsupported_alg");
  EXPECT_EQ(with_header(R"({"alg":"PS256"})"), "unsupported_alg");
  EXPECT_EQ(with_header(R"({"kid":"hs-1"})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":null})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":"HS256","alg":"HS256"})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1","crit":[]})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1","typ":"JOSE"})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1","typ":null})"), "malformed");
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":["hs-1"]})"), "malformed");
  EXPECT_EQ(with_header("{\"alg\":\"HS256\",\"kid\":\"hs-1\",\"x\":\"\xff\"}"), "malformed");  // not UTF-8
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1"} x)"), "malformed");
  EXPECT_EQ(with_header(R"("HS256")"), "malformed");
  EXPECT_EQ(with_header(""), "malformed");
  // What the verifier ignores: keys offered inside the token are never used.
  EXPECT_EQ(with_header(R"({"alg":"HS256","kid":"hs-1","jku":"https://evil.example/jwks","x5u":"x"})"), "ok");
  EXPECT_EQ(with_header(R"( {"alg":"HS256","kid":"hs-1"} )"), "ok");
}

TEST(Jwt, PayloadsThatAreNotOneJsonObjectAreRefused) {
  const std::string header = R"({"alg":"HS256","kid":"hs-1"})";
  const auto verify = [](std::string_view token) { return verify_jwt(token, vector_keys(), {}, vector_now()); };
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000})"))), "ok");
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000,"sub":"c"})"))), "malformed");
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000,"x":{"a":1,"a":2}})"))),
            "malformed");
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000,"x":[{"a":1},{"a":2}]})"))), "ok");
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000}{})"))), "malformed");
  EXPECT_EQ(outcome(verify(hand_signed(header, std::string(20, '[') + std::string(20, ']')))), "malformed");
  EXPECT_EQ(outcome(verify(hand_signed(header, R"({"sub":"b","exp":2000000000,"x":)" + std::string(40, '[') +
                                                   std::string(40, ']') + "}"))),
            "malformed");  // deeper than 16
  EXPECT_EQ(outcome(verify(hand_signed(header, ""))), "malformed");
}

TEST(Jwt, TypIsAcceptedInAnyCaseOfTheJwtSpellings) {
  for (const char* typ : {"JWT", "jwt", "application/jwt", "AT+JWT", "application/at+jwt"}) {
    SCOPED_TRACE(typ);
    EXPECT_EQ(outcome(verify(hand_signed(std::string(R"({"alg":"HS256","kid":"hs-1","typ":")") + typ + "\"}"))),
              "ok");
  }
  for (const char* typ : {"JWS", "JWT ", "at+jwt+x", "", "application/json"}) {
    SCOPED_TRACE(typ);
    EXPECT_EQ(outcome(verify(hand_signed(std::string(R"({"alg":"HS256","kid":"hs-1","typ":")") + typ + "\"}"))),
              "malformed");
  }
}

TEST(Jwt, SignJwtMakesTheTokensOfPyJwtByteForByte) {
  const std::string claims(jwt_vectors().at("signed").at("claims").as_string());
  std::string error;
  const auto eddsa = sign_jwt(jwt_vectors_text("ed_private"), claims, error);
  ASSERT_TRUE(eddsa) << error;
  EXPECT_EQ(*eddsa, jwt_vectors().at("signed").at("eddsa").as_string());
  const auto hs256 = sign_jwt(jwt_vectors_text("hs_private"), claims, error);
  ASSERT_TRUE(hs256) << error;
  EXPECT_EQ(*hs256, jwt_vectors().at("signed").at("hs256").as_string());
  EXPECT_EQ(outcome(verify(*eddsa)), "ok");
  EXPECT_EQ(outcome(verify(*hs256)), "ok");
}

TEST(Jwt, AGeneratedKeySignsTokensItsJwksVerifies) {
  const GeneratedKey key = generate_ed25519_key();
  std::string error;
  const auto keys = KeySet::parse(key.public_jwks, error);
  ASSERT_TRUE(keys) << error;
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->keys()[0].alg(), JwsAlg::eddsa);
  EXPECT_EQ(key.public_jwks.find("\"d\""), std::string::npos);
  const auto token = sign_jwt(key.private_jwk, R"({"sub":"buyer-7","exp":2000000000})", error);
  ASSERT_TRUE(token) << error;
  const auto result = verify_jwt(*token, *keys, {}, 1'900'000'000);
  ASSERT_TRUE(result.buyer) << error_name(result.error);
  EXPECT_EQ(result.buyer->user_id, "buyer-7");
  EXPECT_EQ(result.buyer->expires_at, 2000000000);
  // Another generated key: another kid, and its signature is not this one's.
  const GeneratedKey other = generate_ed25519_key();
  EXPECT_NE(other.private_jwk, key.private_jwk);
  EXPECT_EQ(verify_jwt(*token, *KeySet::parse(other.public_jwks, error), {}, 1'900'000'000).error,
            JwtError::unknown_kid);
}

TEST(Jwt, SignJwtRefusesKeysAndClaimsItCannotUse) {
  std::string error;
  const std::string claims = R"({"sub":"b","exp":2000000000})";
  const auto refused = [&](std::string_view jwk, std::string_view c) {
    error.clear();
    const bool refused = !sign_jwt(jwk, c, error);
    return refused && !error.empty();
  };
  EXPECT_TRUE(refused(R"({"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"})", claims));
  EXPECT_TRUE(refused(R"({"kty":"OKP","crv":"Ed25519","x":"AAAA"})", claims));  // no d
  EXPECT_TRUE(refused(R"({"kty":"oct","k":"c2hvcnQ"})", claims));               // 5 bytes
  EXPECT_TRUE(refused(R"({"kty":"oct","k":"c2hvcnQ=","alg":"HS256"})", claims));
  EXPECT_TRUE(refused("not json", claims));
  EXPECT_TRUE(refused(jwt_vectors_text("hs_private"), "[]"));
  EXPECT_TRUE(refused(jwt_vectors_text("hs_private"), R"({"sub":"a","sub":"b"})"));
  EXPECT_TRUE(refused(jwt_vectors_text("hs_private"), R"({"sub":")" + std::string(8192, 'a') + "\"}"));
  auto ed = jwt_vectors().at("ed_private").as_object();
  ed["alg"] = "HS256";
  EXPECT_TRUE(refused(boost::json::serialize(ed), claims));
  ed["alg"] = "EdDSA";
  ed["x"] = boost::json::parse(generate_ed25519_key().public_jwks).at("keys").at(0).at("x");
  EXPECT_TRUE(refused(boost::json::serialize(ed), claims));  // x is not d's public key
  EXPECT_EQ(error.find(std::string(ed["d"].as_string())), std::string::npos);
}

TEST(Jwt, ExpAndNbfHonourTheLeeway) {
  const std::int64_t now = vector_now();
  VerifyOptions strict = vector_options();
  strict.leeway_s = 0;
  EXPECT_EQ(outcome(verify(vector_token("expired within the leeway"), strict)), "expired");
  EXPECT_EQ(outcome(verify(vector_token("nbf within the leeway"), strict)), "not_yet_valid");
  const auto at = [&](std::int64_t exp) {
    return hs_token(R"({"sub":"b","exp":)" + std::to_string(exp) + "}");
  };
  VerifyOptions open;  // no issuer or audience asked for
  EXPECT_EQ(outcome(verify_jwt(at(now + 1), vector_keys(), open, now)), "ok");
  EXPECT_EQ(outcome(verify_jwt(at(now - 29), vector_keys(), open, now)), "ok");
  EXPECT_EQ(outcome(verify_jwt(at(now - 30), vector_keys(), open, now)), "expired");  // exp is the first instant refused
  open.leeway_s = 0;
  EXPECT_EQ(outcome(verify_jwt(at(now), vector_keys(), open, now)), "expired");
}

TEST(Jwt, ExpAndNbfOfEveryNumberShape) {
  const std::int64_t now = vector_now();
  const VerifyOptions open;
  const auto with = [&](std::string_view claims) { return outcome(verify_jwt(hs_token(claims), vector_keys(), open, now)); };
  EXPECT_EQ(with(R"({"sub":"b","exp":1e300})"), "ok");
  EXPECT_EQ(with(R"({"sub":"b","exp":18446744073709551615})"), "ok");
  EXPECT_EQ(with(R"({"sub":"b","exp":-1e300})"), "expired");
  EXPECT_EQ(with(R"({"sub":"b","exp":-9223372036854775808})"), "expired");
  EXPECT_EQ(with(R"({"sub":"b","exp":true})"), "missing_exp");
  EXPECT_EQ(with(R"({"sub":"b","exp":null})"), "missing_exp");
  EXPECT_EQ(with(R"({"sub":"b","exp":[2000000000]})"), "missing_exp");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"nbf":"0"})"), "malformed");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"nbf":-1e300})"), "ok");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"nbf":1e300})"), "not_yet_valid");
  VerifyOptions huge_leeway;
  huge_leeway.leeway_s = 9223372036854775807;
  EXPECT_EQ(outcome(verify_jwt(hs_token(R"({"sub":"b","exp":9223372036854775807})"), vector_keys(), huge_leeway, now)),
            "ok");
}

TEST(Jwt, IssuerAndAudienceAreCheckedOnlyWhereSet) {
  VerifyOptions open;
  EXPECT_EQ(outcome(verify(vector_token("wrong issuer"), open)), "ok");
  EXPECT_EQ(outcome(verify(vector_token("no audience"), open)), "ok");
  const auto with = [&](std::string_view claims) {
    return outcome(verify_jwt(hs_token(claims), vector_keys(), vector_options(), vector_now()));
  };
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"iss":"https://shop.example","aud":["flashgate",1]})"), "ok");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"iss":"https://shop.example","aud":[["flashgate"]]})"),
            "wrong_audience");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"iss":"https://shop.example","aud":"FLASHGATE"})"),
            "wrong_audience");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"iss":"https://shop.example/","aud":"flashgate"})"),
            "wrong_issuer");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000,"iss":["https://shop.example"],"aud":"flashgate"})"),
            "wrong_issuer");
}

TEST(Jwt, TheUserClaimFollowsTheUserIdRule) {
  VerifyOptions options;
  options.user_claim = "uid";
  const auto with = [&](std::string_view claims) {
    const auto r = verify_jwt(hs_token(claims), vector_keys(), options, vector_now());
    return r.buyer ? r.buyer->user_id : "!" + std::string(error_name(r.error));
  };
  EXPECT_EQ(with(R"({"sub":"b","uid":"shop:user-1","exp":2000000000})"), "shop:user-1");
  EXPECT_EQ(with(R"({"sub":"b","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":"","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":")" + std::string(65, 'u') + R"(","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":")" + std::string(64, 'u') + R"(","exp":2000000000})"), std::string(64, 'u'));
  EXPECT_EQ(with(R"({"uid":"a\nb","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":"a\u0000b","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":"caf\u00e9","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":"a/b","exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":7,"exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":null,"exp":2000000000})"), "!bad_user_claim");
  EXPECT_EQ(with(R"({"uid":["a"],"exp":2000000000})"), "!bad_user_claim");
}

TEST(Jwt, AKeyOnlyVerifiesItsOwnAlgorithm) {
  // The HS256 key's secret, used by an RS256-looking header: no RSA key may verify an HMAC.
  const std::string hs = vector_token("hs256");
  const std::string relabelled = b64(R"({"alg":"RS256","kid":"hs-1"})") + hs.substr(hs.find('.'));
  EXPECT_EQ(outcome(verify(relabelled)), "no_matching_key");
  const std::string unlabelled = b64(R"({"alg":"RS256"})") + hs.substr(hs.find('.'));
  EXPECT_EQ(outcome(verify(unlabelled)), "bad_signature");  // tried against the RSA key: not its signature
  // A set without any HS256 key refuses HS256 without a kid.
  std::string error;
  const auto rsa_only = KeySet::parse(
      boost::json::serialize(boost::json::object{{"keys", {jwt_vectors().at("jwks").at("keys").at(0)}}}), error);
  ASSERT_TRUE(rsa_only);
  EXPECT_EQ(verify_jwt(vector_token("hs256 without kid"), *rsa_only, vector_options(), vector_now()).error,
            JwtError::no_matching_key);
  EXPECT_EQ(verify_jwt(vector_token("hs256"), KeySet(), vector_options(), vector_now()).error,
            JwtError::unknown_kid);
  EXPECT_EQ(verify_jwt(vector_token("hs256 without kid"), KeySet(), vector_options(), vector_now()).error,
            JwtError::no_matching_key);
}

TEST(Jwt, DescriptionsAreShortAndNamesDistinct) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(JwtError::bad_user_claim); ++e) {
    const auto error = static_cast<JwtError>(e);
    EXPECT_FALSE(describe(error).empty());
    EXPECT_LT(describe(error).size(), 80u);
    names.insert(error_name(error));
  }
  EXPECT_EQ(names.size(), 11u);
}

}  // namespace
}  // namespace flashgate::identity
