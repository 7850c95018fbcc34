#include "identity/jwt.hpp"

#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "domain/base64url.hpp"
#include "domain/ids.hpp"
#include "identity/strict_json.hpp"

namespace flashgate::identity {
namespace {

constexpr std::int64_t max_leeway_s = 24 * 3600;

JwtResult failure(JwtError error) { return JwtResult{std::nullopt, error, {}}; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// "typ" is advisory (RFC 7519 5.1); these are the spellings of a JWT and of
// an OAuth access token (RFC 9068), in any case.
bool acceptable_typ(std::string_view typ) {
  for (std::string_view name : {"JWT", "application/jwt", "at+jwt", "application/at+jwt"})
    if (equals_ignoring_case(typ, name)) return true;
  return false;
}

// A NumericDate (RFC 7519 2): any JSON number of seconds, fractions dropped,
// clamped to what int64 holds.
std::optional<std::int64_t> numeric_date(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return std::numeric_limits<std::int64_t>::max();
  if (!v.is_double()) return std::nullopt;
  const double d = std::floor(v.get_double());
  if (d >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  if (d <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(d);
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

bool has_audience(const boost::json::value& aud, std::string_view audience) {
  if (const auto* one = aud.if_string()) return *one == audience;
  if (const auto* list = aud.if_array())
    return std::any_of(list->begin(), list->end(), [&](const boost::json::value& v) {
      return v.is_string() && v.get_string() == audience;
    });
  return false;
}

// The checks of RFC 7519 7.2 after the signature, in the order of JwtError.
JwtResult check_claims(const boost::json::object& claims, const VerifyOptions& options, std::int64_t now_s) {
  const std::int64_t leeway = std::clamp<std::int64_t>(options.leeway_s, 0, max_leeway_s);
  const auto* exp_value = claims.if_contains("exp");
  const auto exp = exp_value ? numeric_date(*exp_value) : std::nullopt;
  if (!exp) return failure(JwtError::missing_exp);
  if (saturating_add(*exp, leeway) <= now_s) return failure(JwtError::expired);
  if (const auto* nbf_value = claims.if_contains("nbf")) {
    const auto nbf = numeric_date(*nbf_value);
    if (!nbf) return failure(JwtError::malformed);
    if (saturating_add(now_s, leeway) < *nbf) return failure(JwtError::not_yet_valid);
  }
  if (!options.issuer.empty()) {
    const auto* iss = claims.if_contains("iss");
    if (!iss || !iss->is_string() || iss->get_string() != options.issuer) return failure(JwtError::wrong_issuer);
  }
  if (!options.audience.empty()) {
    const auto* aud = claims.if_contains("aud");
    if (!aud || !has_audience(*aud, options.audience)) return failure(JwtError::wrong_audience);
  }
  const auto* user = claims.if_contains(options.user_claim);
  if (!user || !user->is_string() || !domain::is_valid_id(user->get_string()))
    return failure(JwtError::bad_user_claim);
  return JwtResult{Buyer{std::string(user->get_string()), *exp}, {}, {}};
}

}  // namespace

std::string_view describe(JwtError error) {
  switch (error) {
    case JwtError::malformed: return "the token is not a well-formed signed JWT";
    case JwtError::unsupported_alg: return "the token's algorithm is not accepted";
    case JwtError::unknown_kid: return "the token's key id is not among the known keys";
    case JwtError::no_matching_key: return "no known key may verify the token's algorithm";
    case JwtError::bad_signature: return "the token's signature does not verify";
    case JwtError::missing_exp: return "the token has no numeric exp claim";
    case JwtError::expired: return "the token has expired";
    case JwtError::not_yet_valid: return "the token is not valid yet";
    case JwtError::wrong_issuer: return "the token is from another issuer";
    case JwtError::wrong_audience: return "the token is for another audience";
    case JwtError::bad_user_claim: return "the token's user claim is not a valid user id";
  }
  return "the token is refused";
}

std::string_view error_name(JwtError error) {
  switch (error) {
    case JwtError::malformed: return "malformed";
    case JwtError::unsupported_alg: return "unsupported_alg";
    case JwtError::unknown_kid: return "unknown_kid";
    case JwtError::no_matching_key: return "no_matching_key";
    case JwtError::bad_signature: return "bad_signature";
    case JwtError::missing_exp: return "missing_exp";
    case JwtError::expired: return "expired";
    case JwtError::not_yet_valid: return "not_yet_valid";
    case JwtError::wrong_issuer: return "wrong_issuer";
    case JwtError::wrong_audience: return "wrong_audience";
    case JwtError::bad_user_claim: return "bad_user_claim";
  }
  return "unknown";
}

JwtResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyOptions& options, std::int64_t now_s) {
  if (token.size() > max_token_bytes) return failure(JwtError::malformed);
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == token.npos ? token.npos : token.find('.', dot1 + 1);
  if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos) return failure(JwtError::malformed);

  // The three parts decode into one buffer: together they are at most 3/4 of the token.
  std::array<unsigned char, max_token_bytes * 3 / 4> decoded;
  std::size_t used = 0;
  const auto decode = [&](std::string_view part) -> std::optional<std::string_view> {
    const auto size = domain::decode_base64url(part, decoded.data() + used);
    if (!size) return std::nullopt;
    const std::string_view bytes(reinterpret_cast<const char*>(decoded.data() + used), *size);
    used += *size;
    return bytes;
  };
  const auto header_text = decode(token.substr(0, dot1));
  const auto payload_text = decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return failure(JwtError::malformed);

  // Header and claims are small: parsed into memory on this stack, mostly.
  std::array<unsigned char, 2048> arena;
  boost::json::monotonic_resource resource(arena.data(), arena.size());
  const boost::json::storage_ptr storage(&resource);
  const auto header = parse_strict_object(*header_text, storage);
  if (!header || header->contains("crit")) return failure(JwtError::malformed);
  if (const auto* typ = header->if_contains("typ"); typ && !(typ->is_string() && acceptable_typ(typ->get_string())))
    return failure(JwtError::malformed);
  const auto* kid = header->if_contains("kid");
  if (kid && !kid->is_string()) return failure(JwtError::malformed);
  const auto* alg_value = header->if_contains("alg");
  if (!alg_value || !alg_value->is_string()) return failure(JwtError::malformed);
  const auto alg = alg_from_name(alg_value->get_string());
  if (!alg) return failure(JwtError::unsupported_alg);

  // Keys: those of the header's kid if it names one, and of them only those
  // whose one algorithm is the header's.
  const std::string_view signing_input = token.substr(0, dot2);
  const std::span<const unsigned char> signature_bytes(reinterpret_cast<const unsigned char*>(signature->data()),
                                                       signature->size());
  bool kid_known = false, alg_matched = false, verified = false;
  for (const auto& key : keys.keys()) {
    if (kid) {
      if (key.kid() != std::string_view(kid->get_string())) continue;
      kid_known = true;
    }
    if (key.alg() != *alg) continue;
    alg_matched = true;
    if (key.verify(signing_input, signature_bytes)) {
      verified = true;
      break;
    }
  }
  if (kid && !kid_known) return JwtResult{std::nullopt, JwtError::unknown_kid, std::string(kid->get_string())};
  if (!alg_matched) return failure(JwtError::no_matching_key);
  if (!verified) return failure(JwtError::bad_signature);

  const auto claims = parse_strict_object(*payload_text, storage);
  if (!claims) return failure(JwtError::malformed);
  return check_claims(*claims, options, now_s);
}

}  // namespace flashgate::identity
