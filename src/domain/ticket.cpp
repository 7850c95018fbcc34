#include "domain/ticket.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace flashgate::domain {
namespace {

constexpr unsigned char format_version = 1;
constexpr std::size_t key_id_size = 4;
constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr int b64_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

void put_string(std::vector<unsigned char>& out, std::string_view s) {
  out.push_back(static_cast<unsigned char>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

bool get_string(const unsigned char*& p, const unsigned char* end, std::string& out) {
  if (p >= end) return false;
  const std::size_t n = *p++;
  if (static_cast<std::size_t>(end - p) < n) return false;
  out.assign(reinterpret_cast<const char*>(p), n);
  p += n;
  return true;
}

}  // namespace

TicketCodec::TicketCodec(std::vector<TicketKey> keys, std::int64_t ttl_ms) : ttl_ms_(ttl_ms) {
  ensure_sodium();
  if (keys.empty()) throw std::invalid_argument("at least one ticket key is needed");
  for (const auto& key : keys) {
    Entry e{key, {}};
    unsigned char hash[16];
    crypto_generichash(hash, sizeof hash, key.data(), key.size(), nullptr, 0);
    std::copy_n(hash, key_id_size, e.id.begin());
    keys_.push_back(e);
  }
}

std::string TicketCodec::seal(const TicketClaims& c) const {
  std::vector<unsigned char> plain;
  plain.reserve(16 + c.order_id.size() + c.sale_id.size() + c.user_id.size());
  plain.push_back(format_version);
  const auto issued = static_cast<std::uint64_t>(c.issued_at);
  for (int shift = 56; shift >= 0; shift -= 8) plain.push_back(static_cast<unsigned char>(issued >> shift));
  put_string(plain, c.order_id);
  put_string(plain, c.sale_id);
  put_string(plain, c.user_id);

  const Entry& k = keys_.front();
  std::vector<unsigned char> out(key_id_size + nonce_size + plain.size() + tag_size);
  std::copy(k.id.begin(), k.id.end(), out.begin());
  unsigned char* nonce = out.data() + key_id_size;
  randombytes_buf(nonce, nonce_size);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + nonce_size, &clen, plain.data(), plain.size(), k.id.data(),
                                             k.id.size(), nullptr, nonce, k.key.data());
  std::string text(sodium_base64_encoded_len(out.size(), b64_variant), '\0');
  sodium_bin2base64(text.data(), text.size(), out.data(), out.size(), b64_variant);
  text.resize(text.size() - 1);  // drop the terminating NUL
  return text;
}

Result<TicketClaims> TicketCodec::open(std::string_view ticket, TimeMs now) const {
  const Error invalid{ErrorCode::invalid_ticket, "the ticket is not valid"};
  if (ticket.empty() || ticket.size() > max_ticket_length) return invalid;
  std::vector<unsigned char> raw(ticket.size());
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(raw.data(), raw.size(), ticket.data(), ticket.size(), nullptr, &len, &end, b64_variant) !=
          0 ||
      end != ticket.data() + ticket.size())
    return invalid;
  if (len < key_id_size + nonce_size + tag_size + 1) return invalid;
  // Only the canonical spelling is accepted, so that no character can change unnoticed.
  std::string canonical(sodium_base64_encoded_len(len, b64_variant), '\0');
  sodium_bin2base64(canonical.data(), canonical.size(), raw.data(), len, b64_variant);
  canonical.resize(canonical.size() - 1);
  if (canonical != ticket) return invalid;

  const Entry* key = nullptr;
  for (const auto& e : keys_)
    if (std::equal(e.id.begin(), e.id.end(), raw.begin())) key = &e;
  if (!key) return invalid;

  const unsigned char* nonce = raw.data() + key_id_size;
  const unsigned char* cipher = nonce + nonce_size;
  const std::size_t clen = len - key_id_size - nonce_size;
  std::vector<unsigned char> plain(clen - tag_size);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr, cipher, clen, key->id.data(),
                                                 key->id.size(), nonce, key->key.data()) != 0)
    return invalid;

  const unsigned char* p = plain.data();
  const unsigned char* pend = p + plen;
  if (plen < 9 || *p++ != format_version) return invalid;
  std::uint64_t issued = 0;
  for (int i = 0; i < 8; ++i) issued = (issued << 8) | *p++;
  TicketClaims claims;
  claims.issued_at = static_cast<TimeMs>(issued);
  if (!get_string(p, pend, claims.order_id) || !get_string(p, pend, claims.sale_id) ||
      !get_string(p, pend, claims.user_id) || p != pend)
    return invalid;
  if (now - claims.issued_at > ttl_ms_) return Error{ErrorCode::ticket_expired, "the ticket has expired"};
  return claims;
}

std::vector<TicketKey> parse_ticket_keys(std::string_view text) {
  std::vector<TicketKey> keys;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    TicketKey key{};
    std::size_t bin_len = 0;
    const char* end = nullptr;
    if (item.size() != 64 ||
        sodium_hex2bin(key.data(), key.size(), item.data(), item.size(), nullptr, &bin_len, &end) != 0 ||
        bin_len != key.size())
      return {};
    keys.push_back(key);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return keys;
}

std::string to_hex(const TicketKey& key) {
  std::string hex(key.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  hex.pop_back();
  return hex;
}

TicketKey random_ticket_key() {
  ensure_sodium();
  TicketKey key;
  randombytes_buf(key.data(), key.size());
  return key;
}

}  // namespace flashgate::domain
