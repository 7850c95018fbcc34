#pragma once
// The buyer's bearer token: a compact JWS (RFC 7515) carrying JWT claims
// (RFC 7519), verified against a KeySet. Pure: the clock is a parameter.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "identity/jwks.hpp"

namespace flashgate::identity {

// Longer tokens are refused before any parsing.
inline constexpr std::size_t max_token_bytes = 8192;

struct VerifyOptions {
  std::string issuer;              // empty: "iss" not checked; else must equal
  std::string audience;            // empty: "aud" not checked; else "aud" (string or array of strings) must contain it
  std::string user_claim = "sub";  // the claim naming the buyer
  std::int64_t leeway_s = 30;      // for exp and nbf
};

struct Buyer {
  std::string user_id;
  std::int64_t expires_at;  // the token's exp (unix seconds)
};

enum class JwtError {
  malformed,
  unsupported_alg,
  unknown_kid,
  no_matching_key,
  bad_signature,
  missing_exp,
  expired,
  not_yet_valid,
  wrong_issuer,
  wrong_audience,
  bad_user_claim
};

// Short English text for logs and the error message; never includes token text.
std::string_view describe(JwtError error);
// The enumerator's name ("bad_signature"), for metric labels and tests.
std::string_view error_name(JwtError error);

struct JwtResult {
  std::optional<Buyer> buyer;  // set on success
  JwtError error{};            // meaningful when !buyer
  std::string kid;             // the header's kid when error == unknown_kid (so the caller may refresh its keys once)
};

JwtResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyOptions& options, std::int64_t now_s);

// Test tokens (`flashgate token`): signs `claims_json` (a JSON object's text, kept as given) with a private
// JWK, either OKP/Ed25519 with "d" (EdDSA) or oct with "k" (HS256, at least 32 bytes). The header is
// {"alg":…,"kid":…,"typ":"JWT"} (kid only if the JWK has one), as PyJWT writes it.
std::optional<std::string> sign_jwt(std::string_view private_jwk_json, std::string_view claims_json,
                                    std::string& error);

// A fresh Ed25519 key pair: the private JWK's JSON and a JWKS document with its public half; kid random.
struct GeneratedKey {
  std::string private_jwk;
  std::string public_jwks;
};
GeneratedKey generate_ed25519_key();

}  // namespace flashgate::identity
