#pragma once
// `flashgate token`: signs a buyer's token with a local key, so that the
// 30-second tour and the tests can use --buyer-auth jwt without a login
// server. A shop's real tokens come from its identity provider.
#include <string>

namespace flashgate::app {

struct TokenRequest {
  std::string user;
  std::string key_file;  // a private JWK; created (Ed25519) with <key_file>.jwks if absent
  std::string ttl = "1h";
  std::string issuer;
  std::string audience;
};

// Prints the token on stdout; 0, or 2 with a message on stderr.
int print_token(const TokenRequest& request);

}  // namespace flashgate::app
