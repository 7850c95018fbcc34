#pragma once
// Verification keys of a JSON Web Key Set (RFC 7517/7518/8037), for the
// buyer's bearer token. Pure: no network, no files; the caller fetches.
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;                   // OpenSSL's EVP_PKEY
struct crypto_auth_hmacsha256_state;  // libsodium's

namespace flashgate::identity {

enum class JwsAlg { rs256, es256, eddsa, hs256 };

// "RS256", "ES256", "EdDSA", "HS256"; anything else (incl. "none") -> nullopt.
std::optional<JwsAlg> alg_from_name(std::string_view name);
std::string_view alg_name(JwsAlg alg);

// One key, ready to verify, and usable with one algorithm only: a key never
// verifies a signature of another algorithm (no HS256 keyed with an RSA key).
class Jwk {
 public:
  // Each refuses what it cannot use safely, saying why in `why` (never key material).
  // RSA: big-endian modulus and exponent, 2048 to 8192 bits, e odd and at most 64 bits.
  static std::optional<Jwk> rsa(std::optional<std::string> kid, std::span<const unsigned char> n,
                                std::span<const unsigned char> e, std::string& why);
  // P-256: the point's coordinates, 32 bytes each, on the curve.
  static std::optional<Jwk> ec_p256(std::optional<std::string> kid, std::span<const unsigned char> x,
                                    std::span<const unsigned char> y, std::string& why);
  // Ed25519: the 32-byte public key, a valid point of main order.
  static std::optional<Jwk> ed25519(std::optional<std::string> kid, std::span<const unsigned char> x,
                                    std::string& why);
  // HS256: the shared secret, at least 32 bytes (RFC 7518 3.2: no shorter than the hash).
  static std::optional<Jwk> hmac_sha256(std::optional<std::string> kid, std::span<const unsigned char> k,
                                        std::string& why);

  const std::optional<std::string>& kid() const { return kid_; }
  JwsAlg alg() const { return alg_; }
  // Whether `signature` (as JWS carries it: raw r||s for ES256) signs
  // `signing_input` under this key with alg(). Thread-safe.
  bool verify(std::string_view signing_input, std::span<const unsigned char> signature) const;

 private:
  Jwk(std::optional<std::string> kid, JwsAlg alg) : kid_(std::move(kid)), alg_(alg) {}

  std::optional<std::string> kid_;
  JwsAlg alg_;
  std::shared_ptr<evp_pkey_st> pkey_;                        // RS256, ES256: built once, shared by copies
  std::array<unsigned char, 32> ed25519_{};                  // EdDSA
  std::shared_ptr<const crypto_auth_hmacsha256_state> hmac_;  // HS256: the state after the key, wiped at the end
};

class KeySet {
 public:
  KeySet() = default;
  explicit KeySet(std::vector<Jwk> keys) : keys_(std::move(keys)) {}

  // A JWKS document {"keys":[...]}. Keys flashgate cannot use (other kty/crv, "use" other than "sig",
  // "key_ops" without "verify", an "alg" that is not one of the four or does not fit the key, RSA under
  // 2048 bits, malformed members) are skipped, each with a line in `skipped` (no key material in it).
  // nullopt (and `error`) only if the document itself is not a JWKS (not a JSON object, a duplicate
  // key anywhere in it, no "keys" array, over 1 MiB).
  static std::optional<KeySet> parse(std::string_view jwks_json, std::string& error,
                                     std::vector<std::string>* skipped = nullptr);

  std::size_t size() const { return keys_.size(); }
  bool has_kid(std::string_view kid) const;
  std::span<const Jwk> keys() const { return keys_; }

 private:
  std::vector<Jwk> keys_;
};

}  // namespace flashgate::identity
