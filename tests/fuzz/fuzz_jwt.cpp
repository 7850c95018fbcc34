// Any text offered as a bearer token, a JWKS document or a token's claims:
// verified, read or signed without a crash; and what sign_jwt signs, its key
// verifies.
#include <cstdlib>

#include "../unit/jwt_vectors.hpp"
#include "domain/ids.hpp"
#include "identity/jwt.hpp"

namespace {

using namespace flashgate::identity;

const KeySet& vector_keys() {
  static const KeySet keys = [] {
    std::string error;
    auto parsed = KeySet::parse(jwt_vectors_text("jwks"), error);
    if (!parsed) std::abort();
    return *parsed;
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::int64_t now = jwt_vectors().at("now").as_int64();
  static const VerifyOptions options{jwt_vectors_text("issuer"), jwt_vectors_text("audience"), "sub", 30};
  static const std::string hs_private = jwt_vectors_text("hs_private");
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto result = verify_jwt(text, vector_keys(), options, now);
  if (result.buyer && (text.size() > max_token_bytes || !flashgate::domain::is_valid_id(result.buyer->user_id)))
    std::abort();
  if (!result.buyer && result.error != JwtError::unknown_kid && !result.kid.empty()) std::abort();

  std::string error;
  std::vector<std::string> skipped;
  if (const auto set = KeySet::parse(text, error, &skipped)) {
    for (const auto& key : set->keys()) (void)key.verify(text, {data, size});
  } else if (error.empty()) {
    std::abort();
  }

  if (const auto token = sign_jwt(hs_private, text, error)) {
    const auto signed_result = verify_jwt(*token, vector_keys(), options, now);
    if (!signed_result.buyer && signed_result.error == JwtError::bad_signature) std::abort();
  }
  (void)sign_jwt(text, R"({"sub":"buyer","exp":4102444800})", error);
  return 0;
}
