#include "app/token_command.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "identity/jwt.hpp"

namespace flashgate::app {
namespace {

bool write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream out(path, std::ios::trunc);
  if (!(out << text << '\n')) return false;
  out.close();
  return ::chmod(path.c_str(), mode) == 0;
}

}  // namespace

int print_token(const TokenRequest& request) {
  if (!domain::is_valid_id(request.user)) {
    fmt::print(stderr, "flashgate token: --user must be 1-64 characters of [A-Za-z0-9._:-]\n");
    return 2;
  }
  const auto ttl_ms = domain::parse_duration_ms(request.ttl);
  if (!ttl_ms || *ttl_ms < 1000) {
    fmt::print(stderr, "flashgate token: --ttl must be a duration of at least 1s, such as 15m or 1h\n");
    return 2;
  }
  std::error_code ec;
  if (!std::filesystem::exists(request.key_file, ec)) {
    const auto key = identity::generate_ed25519_key();
    const std::string jwks_file = request.key_file + ".jwks";
    if (!write_file(request.key_file, key.private_jwk, 0600) || !write_file(jwks_file, key.public_jwks, 0644)) {
      fmt::print(stderr, "flashgate token: cannot write {} and {}\n", request.key_file, jwks_file);
      return 2;
    }
    fmt::print(stderr, "flashgate token: new key {}; its public half for --jwt-keys is {}\n", request.key_file,
               jwks_file);
  }
  std::ifstream in(request.key_file);
  std::stringstream key;
  key << in.rdbuf();
  if (!in) {
    fmt::print(stderr, "flashgate token: cannot read {}\n", request.key_file);
    return 2;
  }
  const auto now_s = domain::now_ms() / 1000;
  boost::json::object claims{{"sub", request.user}, {"iat", now_s}, {"exp", now_s + *ttl_ms / 1000}};
  if (!request.issuer.empty()) claims["iss"] = request.issuer;
  if (!request.audience.empty()) claims["aud"] = request.audience;
  std::string error;
  const auto token = identity::sign_jwt(key.str(), boost::json::serialize(claims), error);
  if (!token) {
    fmt::print(stderr, "flashgate token: {}: {}\n", request.key_file, error);
    return 2;
  }
  fmt::print("{}\n", *token);
  return 0;
}

}  // namespace flashgate::app
