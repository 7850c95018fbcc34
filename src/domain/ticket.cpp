#include "domain/ticket.hpp"

#include <pthread.h>
#include <sodium.h>
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "domain/base64url.hpp"

namespace flashgate::domain {
namespace {

constexpr unsigned char format_version = 1;
constexpr std::size_t key_id_size = 4;
constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
// Version, issue time, then three strings behind a one-byte length.
constexpr std::size_t max_string_size = 255;
constexpr std::size_t max_plain_size = 1 + 8 + 3 * (1 + max_string_size);
constexpr std::size_t max_sealed_size = key_id_size + nonce_size + max_plain_size + tag_size;
// The most bytes an acceptable ticket's text can decode to.
constexpr std::size_t max_opened_size = TicketCodec::max_ticket_length * 3 / 4;

// Nonces are cut from a per-thread pool of random bytes, filled for 170
// seals at a time: a getrandom syscall per seal was 40% of its cost. Every
// byte is handed out once, so nonces stay independent 192-bit random values
// from the kernel's CSPRNG, unique and unpredictable as before.
struct NoncePool {
  unsigned char bytes[nonce_size * 170]{};
  std::size_t next = sizeof bytes;  // empty until first used
};
thread_local NoncePool nonce_pool;

// The same source as randombytes_buf, which asks for 256 bytes per syscall
// (sixteen syscalls per refill); one call is enough for the whole pool.
void fill_random(unsigned char* out, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::getrandom(out, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // no getrandom here: libsodium finds another source, or aborts
      randombytes_buf(out, size);
      return;
    }
    out += n;
    size -= static_cast<std::size_t>(n);
  }
}

void draw_nonce(unsigned char* out) {
  NoncePool& pool = nonce_pool;
  if (pool.next == sizeof pool.bytes) {
    fill_random(pool.bytes, sizeof pool.bytes);
    pool.next = 0;
  }
  std::memcpy(out, pool.bytes + pool.next, nonce_size);
  pool.next += nonce_size;
}

// A forked child would otherwise hand out the very nonces its parent still
// holds. Only the forking thread lives on in the child, so emptying its pool
// is enough. (flashgate does not fork, but the codec should not rely on it.)
void empty_pool_after_fork() { nonce_pool.next = sizeof nonce_pool.bytes; }

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
  static const bool fork_safe = pthread_atfork(nullptr, nullptr, empty_pool_after_fork) == 0;
  if (!fork_safe) throw std::runtime_error("the ticket nonce pool's fork handler could not be registered");
}

unsigned char* put_string(unsigned char* out, std::string_view s) {
  // Ids are at most 64 bytes; a longer claim is a bug, not a ticket that never opens.
  if (s.size() > max_string_size) throw std::invalid_argument("a ticket claim is longer than 255 bytes");
  *out++ = static_cast<unsigned char>(s.size());
  return std::copy(s.begin(), s.end(), out);
}

bool get_string(const unsigned char*& p, const unsigned char* end, std::string& out) {
  if (p >= end) return false;
  const std::size_t n = *p++;
  if (static_cast<std::size_t>(end - p) < n) return false;
  out.assign(reinterpret_cast<const char*>(p), n);
  p += n;
  return true;
}

Error invalid_ticket() { return Error{ErrorCode::invalid_ticket, "the ticket is not valid"}; }

// The tickets a thread has opened lately: sets of four, each set's tags in
// one cache line, the oldest of a full set replaced. Per thread, so that the
// I/O threads share no lock and no cache line over it. An entry keeps the
// ticket's whole text: only the very same text finds it.
constexpr std::size_t memo_ways = 4;
constexpr std::size_t memo_sets = TicketCodec::memo_entries_per_thread / memo_ways;
static_assert((memo_sets & (memo_sets - 1)) == 0, "the set index is taken from the top bits of a product");
constexpr int memo_set_bits = std::countr_zero(memo_sets);
// Longer tickets (long sale or user ids) are not remembered, only opened.
constexpr std::size_t memo_text_capacity = 176;

struct MemoSet {
  alignas(64) std::array<std::uint64_t, memo_ways> tags{};
  std::array<std::uint64_t, memo_ways> codecs{};  // the serial of the codec that opened it; 0: empty
  std::array<std::uint8_t, memo_ways> lengths{};
  unsigned next = 0;
  std::array<std::array<char, memo_text_capacity>, memo_ways> texts{};
  std::array<TicketClaims, memo_ways> claims;
};
thread_local std::unique_ptr<MemoSet[]> opened_tickets;  // made on this thread's first remembered ticket

std::atomic<std::uint64_t> next_codec_serial{1};

// Where a ticket's text sits in the memo. No hash of the whole text is
// needed: a ticket the codec sealed carries 24 random nonce bytes right
// after its 4-byte key id, so its characters 8..23 are random already, and
// only sealed tickets are ever stored. A forged text may land in any set;
// it then fails the comparison of the whole text, and meets the decryption.
struct MemoSlot {
  std::uint64_t tag;
  std::size_t set;
};
constexpr std::size_t memo_text_from = 8;  // past the key id's 5.3 characters
constexpr std::size_t memo_min_text = memo_text_from + 16;

MemoSlot memo_slot_of(std::string_view ticket) {
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, ticket.data() + memo_text_from, 8);
  std::memcpy(&b, ticket.data() + memo_text_from + 8, 8);
  const std::uint64_t tag = (a ^ std::rotl(b, 29)) * 0x9e3779b97f4a7c15ULL;
  return {tag, static_cast<std::size_t>(tag >> (64 - memo_set_bits))};
}

MemoSet& memo_set_at(std::size_t index) {
  if (!opened_tickets) opened_tickets = std::make_unique<MemoSet[]>(memo_sets);
  return opened_tickets[index];
}

}  // namespace

TicketCodec::TicketCodec(std::vector<TicketKey> keys, std::int64_t ttl_ms, bool remember_opened)
    : ttl_ms_(ttl_ms), remember_opened_(remember_opened), serial_(next_codec_serial.fetch_add(1)) {
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

// Layout: key id | nonce | XChaCha20-Poly1305(plain, ad = key id), in base64url.
// Both buffers are on the stack; the text is the one allocation.
std::string TicketCodec::seal(const TicketClaims& c) const {
  return seal(c.order_id, c.sale_id, c.user_id, c.issued_at);
}

std::string TicketCodec::seal(std::string_view order_id, std::string_view sale_id, std::string_view user_id,
                              TimeMs issued_at) const {
  unsigned char plain[max_plain_size];
  unsigned char* p = plain;
  *p++ = format_version;
  const auto issued = static_cast<std::uint64_t>(issued_at);
  for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<unsigned char>(issued >> shift);
  p = put_string(p, order_id);
  p = put_string(p, sale_id);
  p = put_string(p, user_id);
  const auto plain_size = static_cast<std::size_t>(p - plain);

  const Entry& k = keys_.front();
  unsigned char sealed[max_sealed_size];
  std::copy(k.id.begin(), k.id.end(), sealed);
  unsigned char* nonce = sealed + key_id_size;
  draw_nonce(nonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + nonce_size, &clen, plain, plain_size, k.id.data(),
                                             k.id.size(), nullptr, nonce, k.key.data());
  const std::size_t sealed_size = key_id_size + nonce_size + static_cast<std::size_t>(clen);
  std::string text(base64url_length(sealed_size), '\0');
  encode_base64url(sealed, sealed_size, text.data());
  return text;
}

Result<TicketClaims> TicketCodec::open(std::string_view ticket, TimeMs now) const {
  if (ticket.empty() || ticket.size() > max_ticket_length) return invalid_ticket();
  const bool rememberable = remember_opened_ && ticket.size() >= memo_min_text && ticket.size() <= memo_text_capacity;
  MemoSlot slot{};
  MemoSet* set = nullptr;
  if (rememberable) {
    slot = memo_slot_of(ticket);
    set = &memo_set_at(slot.set);
    for (std::size_t way = 0; way < memo_ways; ++way)
      if (set->tags[way] == slot.tag && set->codecs[way] == serial_ && set->lengths[way] == ticket.size() &&
          std::memcmp(set->texts[way].data(), ticket.data(), ticket.size()) == 0)
        return check_age(set->claims[way], now);
  }
  auto claims = decrypt(ticket);
  if (!claims) return claims;
  if (set) {
    const std::size_t way = set->next++ % memo_ways;
    set->tags[way] = slot.tag;
    set->codecs[way] = serial_;
    set->lengths[way] = static_cast<std::uint8_t>(ticket.size());
    std::memcpy(set->texts[way].data(), ticket.data(), ticket.size());
    set->claims[way] = claims.value();
  }
  return check_age(std::move(claims).value(), now);
}

Result<TicketClaims> TicketCodec::check_age(TicketClaims claims, TimeMs now) const {
  if (now - claims.issued_at > ttl_ms_) return Error{ErrorCode::ticket_expired, "the ticket has expired"};
  return claims;
}

Result<TicketClaims> TicketCodec::decrypt(std::string_view ticket) const {
  // Only the canonical spelling decodes, so that no character can change unnoticed.
  unsigned char raw[max_opened_size];
  const auto len = decode_base64url(ticket, raw);
  if (!len || *len < key_id_size + nonce_size + tag_size + 1) return invalid_ticket();

  const Entry* key = nullptr;
  for (const auto& e : keys_)
    if (std::equal(e.id.begin(), e.id.end(), raw)) key = &e;
  if (!key) return invalid_ticket();

  const unsigned char* nonce = raw + key_id_size;
  const unsigned char* cipher = nonce + nonce_size;
  const std::size_t clen = *len - key_id_size - nonce_size;
  unsigned char plain[max_opened_size];
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, nullptr, cipher, clen, key->id.data(),
                                                 key->id.size(), nonce, key->key.data()) != 0)
    return invalid_ticket();

  const unsigned char* p = plain;
  const unsigned char* pend = p + plen;
  if (plen < 9 || *p++ != format_version) return invalid_ticket();
  std::uint64_t issued = 0;
  for (int i = 0; i < 8; ++i) issued = (issued << 8) | *p++;
  TicketClaims claims;
  claims.issued_at = static_cast<TimeMs>(issued);
  if (!get_string(p, pend, claims.order_id) || !get_string(p, pend, claims.sale_id) ||
      !get_string(p, pend, claims.user_id) || p != pend)
    return invalid_ticket();
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
