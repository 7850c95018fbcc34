#include "gateway/buyer_identity.hpp"

#include <algorithm>
#include <array>
#include <functional>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace flashgate::gateway {
namespace {

// Tokens a thread verified lately, in sets of four chosen by a hash of
// their text (direct-mapped, two tokens of a retrying crowd that shared a
// slot evicted each other on every request, and a third of a 2,000-buyer
// crowd's intakes were verified again). A hit needs the very same text,
// keys of the same generation and an exp not yet passed, so it answers
// exactly what a verification would.
struct RememberedToken {
  std::string token;
  std::string user_id;
  std::int64_t expires_at = 0;
  std::uint64_t generation = 0;
};
constexpr std::size_t memo_ways = 4;
constexpr std::size_t memo_sets = 4096;  // 16,384 tokens per thread
constexpr std::size_t longest_remembered = 2048;  // longer tokens are verified every time

struct MemoSet {
  std::array<RememberedToken, memo_ways> ways;
  std::uint8_t next = 0;  // the way the next new token takes, in turn
};

MemoSet& memo_set(std::string_view token) {
  thread_local std::unique_ptr<std::array<MemoSet, memo_sets>> memo;
  if (!memo) memo = std::make_unique<std::array<MemoSet, memo_sets>>();
  return (*memo)[std::hash<std::string_view>{}(token) % memo_sets];
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

BuyerIdentity::BuyerIdentity(BuyerIdentitySettings settings, std::unique_ptr<identity::KeySource> keys)
    : settings_(std::move(settings)), keys_(std::move(keys)) {
  std::transform(settings_.user_header.begin(), settings_.user_header.end(), settings_.user_header.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
}

BuyerIdentity::Verdict BuyerIdentity::identify(const Request& request) const {
  using Kind = Verdict::Kind;
  switch (settings_.mode) {
    case BuyerAuthMode::none: return {Kind::anonymous, {}, {}};
    case BuyerAuthMode::header: {
      const auto& proxies = settings_.trusted_proxies;
      if (std::find(proxies.begin(), proxies.end(), request.client_address) == proxies.end())
        return {Kind::refused, {}, "the buyer is named only by a trusted proxy"};
      const auto user = request.header(settings_.user_header);
      if (user.empty()) return {Kind::refused, {}, "the proxy named no buyer"};
      if (!domain::is_valid_id(user)) return {Kind::refused, {}, "the proxy named a buyer that is not a valid user id"};
      return {Kind::buyer, std::string(user), {}};
    }
    case BuyerAuthMode::jwt: break;
  }
  const auto authorization = request.header("authorization");
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size() || !equals_ignoring_case(authorization.substr(0, scheme.size()), scheme))
    return {Kind::refused, {}, "a bearer token of the shop's login is required"};
  auto token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return from_token(token);
}

BuyerIdentity::Verdict BuyerIdentity::from_token(std::string_view token) const {
  using Kind = Verdict::Kind;
  const auto now_s = domain::now_ms() / 1000;
  const auto generation = keys_->generation();
  const bool rememberable = token.size() <= longest_remembered;
  if (rememberable) {
    for (const auto& slot : memo_set(token).ways)
      if (slot.generation == generation && slot.token == token && now_s <= slot.expires_at + settings_.verify.leeway_s)
        return {Kind::buyer, slot.user_id, {}};
  }
  const auto keys = keys_->current();
  const auto result = identity::verify_jwt(token, *keys, settings_.verify, now_s);
  if (!result.buyer) {
    if (result.error == identity::JwtError::unknown_kid) return {Kind::unknown_key, {}, {}};
    return {Kind::refused, {}, "the bearer token was refused: " + std::string(identity::describe(result.error))};
  }
  if (rememberable) {
    auto& set = memo_set(token);
    auto& slot = set.ways[set.next++ % memo_ways];
    slot.token.assign(token);
    slot.user_id = result.buyer->user_id;
    slot.expires_at = result.buyer->expires_at;
    slot.generation = generation;
  }
  return {Kind::buyer, result.buyer->user_id, {}};
}

}  // namespace flashgate::gateway
