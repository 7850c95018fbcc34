// Making tokens, for tests and the `flashgate token` subcommand: never on the
// intake path.
#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "domain/base64url.hpp"
#include "identity/jwt.hpp"
#include "identity/strict_json.hpp"

namespace flashgate::identity {
namespace {

std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out(domain::base64url_length(size), '\0');
  domain::encode_base64url(data, size, out.data());
  return out;
}

std::string base64url(std::string_view text) {
  return base64url(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

// A secret member's bytes, wiped when done.
class SecretBytes {
 public:
  explicit SecretBytes(std::string_view text) : bytes_(text.size() * 3 / 4) {
    const auto size = domain::decode_base64url(text, bytes_.data());
    valid_ = size.has_value();
    bytes_.resize(size.value_or(0));
  }
  ~SecretBytes() { sodium_memzero(bytes_.data(), bytes_.size()); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  bool valid() const { return valid_; }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
  bool valid_ = false;
};

std::optional<std::string> fail(std::string& error, std::string text) {
  error = std::move(text);
  return std::nullopt;
}

std::string_view string_or_empty(const boost::json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

}  // namespace

std::optional<std::string> sign_jwt(std::string_view private_jwk_json, std::string_view claims_json,
                                    std::string& error) {
  if (sodium_init() < 0) return fail(error, "libsodium could not start");
  const auto jwk = parse_strict_object(private_jwk_json);
  if (!jwk) return fail(error, "the key is not a JSON object without repeated keys");
  if (!parse_strict_object(claims_json)) return fail(error, "the claims are not a JSON object without repeated keys");

  const std::string_view kty = string_or_empty(*jwk, "kty");
  JwsAlg alg;
  if (kty == "OKP" && string_or_empty(*jwk, "crv") == "Ed25519")
    alg = JwsAlg::eddsa;
  else if (kty == "oct")
    alg = JwsAlg::hs256;
  else
    return fail(error, "only an OKP Ed25519 key (with d) or an oct key (with k) can sign");
  if (const auto* named = jwk->if_contains("alg"))
    if (!named->is_string() || alg_from_name(named->get_string()) != alg)
      return fail(error, "the key's alg does not fit the key");
  boost::json::object header;
  header["alg"] = alg_name(alg);
  if (const auto* kid = jwk->if_contains("kid")) {
    if (!kid->is_string()) return fail(error, "the key's kid is not a string");
    header["kid"] = kid->get_string();
  }
  header["typ"] = "JWT";
  std::string token = base64url(boost::json::serialize(header)) + "." + base64url(claims_json);
  const auto* input = reinterpret_cast<const unsigned char*>(token.data());
  const std::size_t input_size = token.size();

  if (alg == JwsAlg::eddsa) {
    const SecretBytes seed(string_or_empty(*jwk, "d"));
    if (!seed.valid() || seed.bytes().size() != crypto_sign_SEEDBYTES)
      return fail(error, "d is not a 32-byte Ed25519 seed in base64url");
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(public_key, secret_key, seed.bytes().data());
    unsigned char signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, nullptr, input, input_size, secret_key);
    sodium_memzero(secret_key, sizeof secret_key);
    if (jwk->contains("x") && string_or_empty(*jwk, "x") != base64url(public_key, sizeof public_key))
      return fail(error, "x is not the public key of d");
    token += "." + base64url(signature, sizeof signature);
  } else {
    const SecretBytes secret(string_or_empty(*jwk, "k"));
    if (!secret.valid() || secret.bytes().size() < 32) return fail(error, "k is not a base64url secret of 32 bytes or more");
    crypto_auth_hmacsha256_state state;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&state, secret.bytes().data(), secret.bytes().size());
    crypto_auth_hmacsha256_update(&state, input, input_size);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    token += "." + base64url(mac, sizeof mac);
  }
  if (token.size() > max_token_bytes) return fail(error, "the token would be over 8 KiB");
  return token;
}

GeneratedKey generate_ed25519_key() {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing safe to return
  unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
  unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(public_key, secret_key);
  unsigned char seed[crypto_sign_SEEDBYTES];
  crypto_sign_ed25519_sk_to_seed(seed, secret_key);
  unsigned char kid[12];
  randombytes_buf(kid, sizeof kid);

  boost::json::object jwk{{"kty", "OKP"},
                          {"crv", "Ed25519"},
                          {"kid", base64url(kid, sizeof kid)},
                          {"use", "sig"},
                          {"alg", "EdDSA"},
                          {"x", base64url(public_key, sizeof public_key)}};
  GeneratedKey out;
  out.public_jwks = boost::json::serialize(boost::json::object{{"keys", boost::json::array{jwk}}});
  std::string d = base64url(seed, sizeof seed);
  jwk["d"] = d;
  out.private_jwk = boost::json::serialize(jwk);
  sodium_memzero(d.data(), d.size());
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(secret_key, sizeof secret_key);
  return out;
}

}  // namespace flashgate::identity
