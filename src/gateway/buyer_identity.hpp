#pragma once
// Who the buyer of an intake is, from the request alone and before any store
// is touched: the body's user_id (mode none), a bearer token of the shop's
// login (jwt), or a header a trusted proxy set (header). No network call per
// request: keys are in memory, and each thread remembers the tokens it
// verified lately, never past their exp.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/exchange.hpp"
#include "identity/jwt.hpp"
#include "identity/key_source.hpp"

namespace flashgate::gateway {

enum class BuyerAuthMode { none, jwt, header };

struct BuyerIdentitySettings {
  BuyerAuthMode mode = BuyerAuthMode::none;
  identity::VerifyOptions verify;
  std::string user_header;                   // header mode: lower-case name
  std::vector<std::string> trusted_proxies;  // header mode: the only peers believed
};

class BuyerIdentity {
 public:
  // keys: required in jwt mode, else null.
  BuyerIdentity(BuyerIdentitySettings settings, std::unique_ptr<identity::KeySource> keys);

  BuyerAuthMode mode() const { return settings_.mode; }

  struct Verdict {
    enum class Kind { anonymous, buyer, refused, unknown_key } kind;
    std::string user_id;  // buyer: the verified buyer
    std::string why;      // refused: for the client; never the token's text
  };
  // anonymous: mode none, the body says. unknown_key: the token names a kid
  // the keys lack; ask again after keys().refresh_for_unknown_kid.
  Verdict identify(const Request& request) const;

  identity::KeySource* keys() const { return keys_.get(); }

 private:
  Verdict from_token(std::string_view token) const;

  BuyerIdentitySettings settings_;
  std::unique_ptr<identity::KeySource> keys_;
};

}  // namespace flashgate::gateway
