#include "identity/jwks.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <sodium.h>

#include <algorithm>

#include "domain/base64url.hpp"
#include "identity/strict_json.hpp"

namespace flashgate::identity {
namespace {

constexpr std::size_t max_jwks_bytes = 1 << 20;

std::optional<std::string_view> string_member(const boost::json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

// A member's bytes; nullopt unless it is a string of canonical unpadded base64url (RFC 7515 2).
std::optional<std::vector<unsigned char>> bytes_member(const boost::json::object& obj, std::string_view name) {
  const auto text = string_member(obj, name);
  if (!text) return std::nullopt;
  std::vector<unsigned char> bytes(text->size() * 3 / 4);
  const auto size = domain::decode_base64url(*text, bytes.data());
  if (!size) return std::nullopt;
  bytes.resize(*size);
  return bytes;
}

// Text of the JWKS that goes into a log line: short, printable, quoted.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
  if (text.size() > 40) out += "...";
  return out + "\"";
}

// The one algorithm a key's type allows (RFC 7518 6, RFC 8037 2), or why none.
std::optional<JwsAlg> implied_alg(const boost::json::object& jwk, std::string& why) {
  const auto kty = string_member(jwk, "kty");
  if (!kty) {
    why = "no kty";
    return std::nullopt;
  }
  if (*kty == "RSA") return JwsAlg::rs256;
  if (*kty == "oct") return JwsAlg::hs256;
  if (*kty != "EC" && *kty != "OKP") {
    why = "kty " + quoted(*kty) + " is not supported";
    return std::nullopt;
  }
  const auto crv = string_member(jwk, "crv");
  if (*kty == "EC" && crv == "P-256") return JwsAlg::es256;
  if (*kty == "OKP" && crv == "Ed25519") return JwsAlg::eddsa;
  why = std::string(*kty) + " curve " + (crv ? quoted(*crv) : "(none)") + " is not supported";
  return std::nullopt;
}

std::optional<Jwk> refuse(std::string& why, std::string reason) {
  why = std::move(reason);
  return std::nullopt;
}

std::optional<Jwk> missing(std::string& why, std::string_view members) {
  return refuse(why, std::string(members) + " missing or not base64url");
}

std::optional<Jwk> key_from_json(const boost::json::object& jwk, std::string& why) {
  const auto alg = implied_alg(jwk, why);
  if (!alg) return std::nullopt;
  std::optional<std::string> kid;
  if (const auto* v = jwk.if_contains("kid")) {
    if (!v->is_string()) return refuse(why, "kid is not a string");
    kid.emplace(v->get_string());
  }
  if (const auto* use = jwk.if_contains("use"); use && !(use->is_string() && use->get_string() == "sig"))
    return refuse(why, "use is not \"sig\"");
  if (const auto* ops = jwk.if_contains("key_ops")) {
    const auto* list = ops->if_array();
    if (!list || std::find(list->begin(), list->end(), boost::json::value("verify")) == list->end())
      return refuse(why, "key_ops does not allow \"verify\"");
  }
  if (const auto* v = jwk.if_contains("alg")) {
    const auto named = v->is_string() ? alg_from_name(v->get_string()) : std::nullopt;
    if (!named) return refuse(why, "alg is not one of RS256, ES256, EdDSA, HS256");
    if (*named != *alg)
      return refuse(why, "alg " + std::string(alg_name(*named)) + " does not fit the key (" +
                             std::string(alg_name(*alg)) + ")");
  }
  switch (*alg) {
    case JwsAlg::rs256: {
      auto n = bytes_member(jwk, "n"), e = bytes_member(jwk, "e");
      if (!n || !e) return missing(why, "n or e");
      return Jwk::rsa(std::move(kid), *n, *e, why);
    }
    case JwsAlg::es256: {
      auto x = bytes_member(jwk, "x"), y = bytes_member(jwk, "y");
      if (!x || !y) return missing(why, "x or y");
      return Jwk::ec_p256(std::move(kid), *x, *y, why);
    }
    case JwsAlg::eddsa: {
      auto x = bytes_member(jwk, "x");
      if (!x) return missing(why, "x");
      return Jwk::ed25519(std::move(kid), *x, why);
    }
    case JwsAlg::hs256: {
      auto k = bytes_member(jwk, "k");
      if (!k) return missing(why, "k");
      auto key = Jwk::hmac_sha256(std::move(kid), *k, why);
      sodium_memzero(k->data(), k->size());
      return key;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<JwsAlg> alg_from_name(std::string_view name) {
  if (name == "RS256") return JwsAlg::rs256;
  if (name == "ES256") return JwsAlg::es256;
  if (name == "EdDSA") return JwsAlg::eddsa;
  if (name == "HS256") return JwsAlg::hs256;
  return std::nullopt;
}

std::string_view alg_name(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::rs256: return "RS256";
    case JwsAlg::es256: return "ES256";
    case JwsAlg::eddsa: return "EdDSA";
    case JwsAlg::hs256: return "HS256";
  }
  return "?";
}

std::optional<KeySet> KeySet::parse(std::string_view jwks_json, std::string& error,
                                    std::vector<std::string>* skipped) {
  if (jwks_json.size() > max_jwks_bytes) {
    error = "the JWKS document is over 1 MiB";
    return std::nullopt;
  }
  StrictJsonError why{};
  const auto doc = parse_strict_object(jwks_json, {}, &why);
  if (!doc) {
    error = why == StrictJsonError::duplicate_key ? "the JWKS document repeats a key in an object"
                                                  : "the JWKS document is not a JSON object";
    return std::nullopt;
  }
  const auto* list = doc->if_contains("keys");
  if (!list || !list->is_array()) {
    error = "the JWKS document has no \"keys\" array";
    return std::nullopt;
  }
  KeySet set;
  std::size_t index = 0;
  for (const auto& entry : list->get_array()) {
    std::string reason;
    std::optional<Jwk> key;
    if (const auto* jwk = entry.if_object())
      key = key_from_json(*jwk, reason);
    else
      reason = "not a JSON object";
    if (key) {
      set.keys_.push_back(std::move(*key));
    } else if (skipped) {
      std::string line = "key " + std::to_string(index);
      if (const auto* jwk = entry.if_object())
        if (const auto kid = string_member(*jwk, "kid")) line += " (kid " + quoted(*kid) + ")";
      skipped->push_back(line + ": " + reason);
    }
    ++index;
  }
  return set;
}

bool KeySet::has_kid(std::string_view kid) const {
  for (const auto& key : keys_)
    if (key.kid() == kid) return true;
  return false;
}

}  // namespace flashgate::identity
