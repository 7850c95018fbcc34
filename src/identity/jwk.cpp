// The keys' cryptography: OpenSSL 3 (EVP) for RSA and P-256, libsodium for
// Ed25519 and HMAC-SHA256.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "identity/jwks.hpp"

namespace flashgate::identity {
namespace {

template <auto free_function>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    free_function(p);
  }
};
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ParamBuilder = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EcdsaSignature = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

Bignum bignum(std::span<const unsigned char> bytes) {
  return Bignum(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
}

// A public EVP_PKEY of `type` from the parameters `bld` holds; null (and the
// error queue cleared) if OpenSSL refuses them.
std::shared_ptr<evp_pkey_st> public_key_from(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyContext ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return std::shared_ptr<evp_pkey_st>(pkey, EVP_PKEY_free);
}

bool public_key_checks(EVP_PKEY* pkey) {
  PkeyContext ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  const bool ok = ctx && EVP_PKEY_public_check(ctx.get()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

std::span<const unsigned char> without_leading_zeros(std::span<const unsigned char> bytes) {
  while (!bytes.empty() && bytes.front() == 0) bytes = bytes.subspan(1);
  return bytes;
}

// SHA-256 and the key's signature check over the signing input.
bool digest_verify(EVP_PKEY* pkey, std::string_view input, const unsigned char* signature, std::size_t size) {
  DigestContext ctx(EVP_MD_CTX_new());
  const bool ok = ctx &&
                  EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey, nullptr) == 1 &&
                  EVP_DigestVerify(ctx.get(), signature, size, reinterpret_cast<const unsigned char*>(input.data()),
                                   input.size()) == 1;
  if (!ok) ERR_clear_error();  // a refused signature leaves errors behind; the next caller must not see them
  return ok;
}

// JWS carries an ES256 signature as r||s, 32 bytes each (RFC 7518 3.4);
// OpenSSL verifies the DER of ECDSA-Sig-Value.
bool verify_es256(EVP_PKEY* pkey, std::string_view input, std::span<const unsigned char> signature) {
  if (signature.size() != 64) return false;
  EcdsaSignature sig(ECDSA_SIG_new());
  Bignum r = bignum(signature.first(32)), s = bignum(signature.subspan(32));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char der[80];  // at most 72 for two 32-byte integers
  if (i2d_ECDSA_SIG(sig.get(), nullptr) > static_cast<int>(sizeof der)) return false;
  unsigned char* end = der;
  const int size = i2d_ECDSA_SIG(sig.get(), &end);
  if (size <= 0) {
    ERR_clear_error();
    return false;
  }
  return digest_verify(pkey, input, der, static_cast<std::size_t>(size));
}

}  // namespace

std::optional<Jwk> Jwk::rsa(std::optional<std::string> kid, std::span<const unsigned char> n,
                            std::span<const unsigned char> e, std::string& why) {
  n = without_leading_zeros(n);
  e = without_leading_zeros(e);
  Bignum modulus = bignum(n), exponent = bignum(e);
  if (!modulus || !exponent) {
    why = "RSA key could not be read";
    return std::nullopt;
  }
  const int bits = BN_num_bits(modulus.get());
  if (bits < 2048) {
    why = "RSA key of " + std::to_string(bits) + " bits is under 2048";
    return std::nullopt;
  }
  if (bits > 8192) {
    why = "RSA key of " + std::to_string(bits) + " bits is over 8192";
    return std::nullopt;
  }
  if (e.empty() || e.size() > 8 || (e.back() & 1) == 0 || BN_is_one(exponent.get())) {
    why = "RSA exponent is not odd, above 1 and at most 64 bits";
    return std::nullopt;
  }
  ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    ERR_clear_error();
    why = "RSA key could not be built";
    return std::nullopt;
  }
  Jwk key(std::move(kid), JwsAlg::rs256);
  key.pkey_ = public_key_from("RSA", bld.get());
  if (!key.pkey_) {
    why = "RSA key refused by OpenSSL";
    return std::nullopt;
  }
  return key;
}

std::optional<Jwk> Jwk::ec_p256(std::optional<std::string> kid, std::span<const unsigned char> x,
                                std::span<const unsigned char> y, std::string& why) {
  if (x.size() != 32 || y.size() != 32) {
    why = "P-256 coordinates are not 32 bytes each";
    return std::nullopt;
  }
  unsigned char point[65] = {0x04};  // uncompressed: 04 || x || y
  std::copy(x.begin(), x.end(), point + 1);
  std::copy(y.begin(), y.end(), point + 33);
  ParamBuilder bld(OSSL_PARAM_BLD_new());
  char group[] = "P-256";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) != 1) {
    ERR_clear_error();
    why = "P-256 key could not be built";
    return std::nullopt;
  }
  Jwk key(std::move(kid), JwsAlg::es256);
  key.pkey_ = public_key_from("EC", bld.get());
  if (!key.pkey_ || !public_key_checks(key.pkey_.get())) {
    why = "P-256 point is not on the curve";
    return std::nullopt;
  }
  return key;
}

std::optional<Jwk> Jwk::ed25519(std::optional<std::string> kid, std::span<const unsigned char> x,
                                std::string& why) {
  if (x.size() != 32) {
    why = "Ed25519 key is not 32 bytes";
    return std::nullopt;
  }
  if (sodium_init() < 0 || crypto_core_ed25519_is_valid_point(x.data()) != 1) {
    why = "Ed25519 key is not a valid point of main order";
    return std::nullopt;
  }
  Jwk key(std::move(kid), JwsAlg::eddsa);
  std::copy(x.begin(), x.end(), key.ed25519_.begin());
  return key;
}

std::optional<Jwk> Jwk::hmac_sha256(std::optional<std::string> kid, std::span<const unsigned char> k,
                                    std::string& why) {
  if (k.size() < 32) {
    why = "HS256 secret of " + std::to_string(k.size()) + " bytes is under 32";
    return std::nullopt;
  }
  auto state = std::shared_ptr<crypto_auth_hmacsha256_state>(new crypto_auth_hmacsha256_state,
                                                              [](crypto_auth_hmacsha256_state* s) {
                                                                sodium_memzero(s, sizeof *s);
                                                                delete s;
                                                              });
  crypto_auth_hmacsha256_init(state.get(), k.data(), k.size());
  Jwk key(std::move(kid), JwsAlg::hs256);
  key.hmac_ = std::move(state);
  return key;
}

bool Jwk::verify(std::string_view signing_input, std::span<const unsigned char> signature) const {
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  switch (alg_) {
    case JwsAlg::rs256:
      return !signature.empty() && digest_verify(pkey_.get(), signing_input, signature.data(), signature.size());
    case JwsAlg::es256:
      return verify_es256(pkey_.get(), signing_input, signature);
    case JwsAlg::eddsa:
      return signature.size() == crypto_sign_BYTES &&
             crypto_sign_verify_detached(signature.data(), input, signing_input.size(), ed25519_.data()) == 0;
    case JwsAlg::hs256: {
      if (signature.size() != crypto_auth_hmacsha256_BYTES) return false;
      crypto_auth_hmacsha256_state state = *hmac_;
      unsigned char mac[crypto_auth_hmacsha256_BYTES];
      crypto_auth_hmacsha256_update(&state, input, signing_input.size());
      crypto_auth_hmacsha256_final(&state, mac);
      sodium_memzero(&state, sizeof state);
      return sodium_memcmp(mac, signature.data(), sizeof mac) == 0;
    }
  }
  return false;
}

}  // namespace flashgate::identity
