#include "domain/ticket.hpp"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "domain/time.hpp"

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::parse_ticket_keys;
using flashgate::domain::random_ticket_key;
using flashgate::domain::TicketClaims;
using flashgate::domain::TicketCodec;
using flashgate::domain::TicketKey;
using flashgate::domain::TimeMs;
using flashgate::domain::to_hex;

constexpr std::int64_t ttl = 3'600'000;
constexpr TimeMs issued = 1'800'000'000'000;

const std::string b64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

TicketKey key_of(unsigned char fill) {
  TicketKey k;
  k.fill(fill);
  return k;
}

TicketClaims claims() {
  return TicketClaims{"0123456789abcdef0123", "sale-2026:11.24_A", "user-42", issued};
}

bool same(const TicketClaims& a, const TicketClaims& b) {
  return a.order_id == b.order_id && a.sale_id == b.sale_id && a.user_id == b.user_id && a.issued_at == b.issued_at;
}

class TicketTest : public ::testing::Test {
 protected:
  TicketCodec codec{{key_of(0x11)}, ttl};
  std::string ticket = codec.seal(claims());
};

void expect_invalid(const TicketCodec& codec, const std::string& ticket, TimeMs now = issued) {
  const auto opened = codec.open(ticket, now);
  ASSERT_FALSE(opened) << "opened: '" << ticket << "'";
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_ticket) << ticket;
}

// --- round trip ---

TEST_F(TicketTest, SealThenOpenGivesBackEveryClaim) {
  const auto opened = codec.open(ticket, issued);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->order_id, "0123456789abcdef0123");
  EXPECT_EQ(opened->sale_id, "sale-2026:11.24_A");
  EXPECT_EQ(opened->user_id, "user-42");
  EXPECT_EQ(opened->issued_at, issued);
}

TEST_F(TicketTest, LongestIdsRoundTrip) {
  const TicketClaims c{std::string(64, 'o'), std::string(64, 's'), std::string(64, 'u'), issued + 123};
  const std::string t = codec.seal(c);
  EXPECT_LE(t.size(), TicketCodec::max_ticket_length);
  const auto opened = codec.open(t, issued + 123);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(same(*opened, c));
}

TEST_F(TicketTest, ShortestIdsRoundTrip) {
  const TicketClaims c{"o", "s", "u", issued};
  const auto opened = codec.open(codec.seal(c), issued);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(same(*opened, c));
}

TEST_F(TicketTest, SealingFromViewsSealsTheSameClaims) {
  const std::string order_id = "0123456789abcdef0123", sale_id = "sale-2026:11.24_A", user_id = "user-42";
  const std::string t = codec.seal(std::string_view(order_id), sale_id, user_id, issued + 5);
  EXPECT_EQ(t.size(), ticket.size());  // same payload length as the TicketClaims spelling
  const auto opened = codec.open(t, issued + 5);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(same(*opened, TicketClaims{order_id, sale_id, user_id, issued + 5}));
}

TEST_F(TicketTest, SealingTwiceGivesDifferentTicketsThatBothOpen) {
  const std::string again = codec.seal(claims());
  EXPECT_NE(again, ticket);  // a fresh nonce each time
  EXPECT_TRUE(codec.open(again, issued));
  EXPECT_TRUE(codec.open(ticket, issued));
}

TEST_F(TicketTest, ClaimsAreNotReadableInTheTicket) {
  EXPECT_EQ(ticket.find("user-42"), std::string::npos);
  EXPECT_EQ(ticket.find("sale-2026"), std::string::npos);
}

// --- tampering ---

TEST_F(TicketTest, AnyChangedCharacterIsRefused) {
  ASSERT_TRUE(codec.open(ticket, issued));
  for (std::size_t i = 0; i < ticket.size(); ++i) {
    for (char replacement : b64url_alphabet) {
      if (replacement == ticket[i]) continue;
      std::string changed = ticket;
      changed[i] = replacement;
      const auto opened = codec.open(changed, issued);
      ASSERT_FALSE(opened) << "position " << i << " changed to '" << replacement << "' still opens";
      ASSERT_EQ(opened.error().code, ErrorCode::invalid_ticket) << "position " << i;
    }
  }
}

TEST_F(TicketTest, TruncatedIsRefused) {
  for (std::size_t n = 0; n < ticket.size(); ++n) {
    const auto opened = codec.open(ticket.substr(0, n), issued);
    ASSERT_FALSE(opened) << "prefix of " << n << " characters opens";
    EXPECT_EQ(opened.error().code, ErrorCode::invalid_ticket);
  }
  expect_invalid(codec, ticket.substr(1));
}

TEST_F(TicketTest, AppendedIsRefused) {
  for (char extra : b64url_alphabet) expect_invalid(codec, ticket + extra);
  expect_invalid(codec, ticket + "AAAA");
  expect_invalid(codec, ticket + ticket);
  expect_invalid(codec, ticket + "=");
  expect_invalid(codec, ticket + "==");
  expect_invalid(codec, ticket + "\n");
}

TEST_F(TicketTest, EmptyIsRefused) { expect_invalid(codec, ""); }

TEST_F(TicketTest, TooLongIsRefused) {
  expect_invalid(codec, std::string(TicketCodec::max_ticket_length + 1, 'A'));
  expect_invalid(codec, std::string(100'000, 'A'));
}

TEST_F(TicketTest, GarbageIsRefused) {
  for (const char* garbage : {"x", "not a ticket", "!!!!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                              "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo", "%00", "\xff\xfe"})
    expect_invalid(codec, garbage);
  expect_invalid(codec, std::string(200, '\0'));
}

TEST_F(TicketTest, StandardBase64SpellingIsRefused) {
  std::string standard = ticket;
  bool changed = false;
  for (char& c : standard) {
    if (c == '-') c = '+', changed = true;
    else if (c == '_') c = '/', changed = true;
  }
  if (!changed) standard.back() = '+';
  expect_invalid(codec, standard);
}

TEST_F(TicketTest, SwappedAdjacentCharactersAreRefused) {
  for (std::size_t i = 0; i + 1 < ticket.size(); ++i) {
    if (ticket[i] == ticket[i + 1]) continue;
    std::string swapped = ticket;
    std::swap(swapped[i], swapped[i + 1]);
    ASSERT_FALSE(codec.open(swapped, issued)) << "swap at " << i;
  }
}

// --- expiry ---

TEST_F(TicketTest, OlderThanTheTtlIsExpired) {
  const auto opened = codec.open(ticket, issued + ttl + 1);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::ticket_expired);
}

TEST_F(TicketTest, FarPastTtlIsExpired) {
  const auto opened = codec.open(ticket, issued + 100 * ttl);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::ticket_expired);
}

TEST_F(TicketTest, AtExactlyTheTtlItStillOpens) { EXPECT_TRUE(codec.open(ticket, issued + ttl)); }

TEST(Ticket, IssuedInThePastExpiresAgainstTheClock) {
  const TicketCodec codec({key_of(0x21)}, 2000);
  const TimeMs now = flashgate::domain::now_ms();
  TicketClaims c = claims();
  c.issued_at = now - 60'000;  // a minute ago, TTL 2 s
  const auto opened = codec.open(codec.seal(c), now);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::ticket_expired);

  c.issued_at = now;
  EXPECT_TRUE(codec.open(codec.seal(c), now + 1000));
}

TEST_F(TicketTest, TamperedExpiredTicketIsInvalidNotExpired) {
  std::string changed = ticket;
  changed[ticket.size() / 2] = changed[ticket.size() / 2] == 'A' ? 'B' : 'A';
  expect_invalid(codec, changed, issued + 10 * ttl);
}

TEST(Ticket, ExpiryFollowsTheOpeningCodecsTtl) {
  const TicketCodec short_lived({key_of(0x31)}, 1000);
  const TicketCodec long_lived({key_of(0x31)}, 10'000);
  const std::string t = long_lived.seal(claims());
  EXPECT_TRUE(long_lived.open(t, issued + 5000));
  const auto opened = short_lived.open(t, issued + 5000);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::ticket_expired);
}

// --- keys and rotation ---

TEST(Ticket, RotatedCodecOpensTicketsOfTheOlderKey) {
  const TicketKey k1 = key_of(0x01), k2 = key_of(0x02);
  const TicketCodec old_codec({k1}, ttl);
  const TicketCodec rotated({k2, k1}, ttl);
  const auto opened = rotated.open(old_codec.seal(claims()), issued);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(same(*opened, claims()));
}

TEST(Ticket, RotatedCodecSealsWithTheNewestKey) {
  const TicketKey k1 = key_of(0x01), k2 = key_of(0x02);
  const TicketCodec old_codec({k1}, ttl);
  const TicketCodec rotated({k2, k1}, ttl);
  const TicketCodec new_only({k2}, ttl);
  const std::string t = rotated.seal(claims());
  const auto by_old = old_codec.open(t, issued);
  ASSERT_FALSE(by_old) << "a codec without k2 opened a ticket that should be sealed with k2";
  EXPECT_EQ(by_old.error().code, ErrorCode::invalid_ticket);
  EXPECT_TRUE(new_only.open(t, issued));
  EXPECT_TRUE(rotated.open(t, issued));
}

TEST(Ticket, KeyOrderMattersOnlyForSealing) {
  const TicketKey k1 = key_of(0x01), k2 = key_of(0x02);
  const TicketCodec a({k1, k2}, ttl), b({k2, k1}, ttl);
  EXPECT_TRUE(a.open(b.seal(claims()), issued));
  EXPECT_TRUE(b.open(a.seal(claims()), issued));
}

TEST(Ticket, UnrelatedKeyIsRefused) {
  const TicketCodec mine({random_ticket_key()}, ttl);
  const TicketCodec theirs({random_ticket_key()}, ttl);
  const auto opened = mine.open(theirs.seal(claims()), issued);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::invalid_ticket);
}

TEST(Ticket, KeysDifferingInOneBitAreUnrelated) {
  TicketKey k = key_of(0x55);
  TicketKey k_flipped = k;
  k_flipped[31] ^= 0x01;
  const TicketCodec a({k}, ttl), b({k_flipped}, ttl);
  EXPECT_FALSE(b.open(a.seal(claims()), issued));
}

TEST(Ticket, CodecWithoutKeysIsABug) { EXPECT_THROW(TicketCodec({}, ttl), std::invalid_argument); }

TEST(Ticket, TicketsAreUrlSafe) {
  const TicketCodec codec({random_ticket_key()}, ttl);
  for (int i = 0; i < 500; ++i) {
    const TicketClaims c{"order" + std::to_string(i), "sale-" + std::to_string(i * 7),
                         std::string(static_cast<std::size_t>(1 + i % 64), 'u'), issued + i};
    const std::string t = codec.seal(c);
    ASSERT_FALSE(t.empty());
    for (char ch : t)
      ASSERT_NE(b64url_alphabet.find(ch), std::string::npos) << "character '" << ch << "' in " << t;
    ASSERT_TRUE(codec.open(t, issued + i)) << t;
  }
}

// --- wire format ---

// Sealed by the codec before it had its own base64 and nonce pool: tickets
// issued then must keep opening.
TEST(Ticket, TicketsOfThePreviousCodecStillOpen) {
  TicketKey k2;
  for (std::size_t i = 0; i < k2.size(); ++i) k2[i] = static_cast<unsigned char>(i * 7 + 3);
  const TicketCodec codec({key_of(0x5a), k2}, ttl);
  const struct {
    const char* ticket;
    TicketClaims claims;
  } golden[] = {
      {"PtGAjriuj4TttrymzqN5__8zu3cQuN_GAy5cECe_jJiCAkpK_pNnbcqITXlThYZFpO53ZzEqYXjCvcTzD7nuZu5yNHIJRUiTsDYPHhqUAI-"
       "00gGKU3bd2-g2VOr7lbqF7oxF9g",
       {"0123456789abcdef0123", "sale-2026:11.24_A", "user-42", 1'800'000'000'000}},
      {"xVLjyU5PaRjeihoevuQTYxYEu2YE2QAv57tWu7vDtnbMkRK7Ta7myxdn7spaHL6qpbUZyKEaqo05et4FCBSKI3D6LRZ_RtjThvM-"
       "dmsuxefmp3RyvmC0J0q5GnIkog",
       {"3f2a9c1d-0123456789abcdef0123", "phone-42", "u", 1'800'000'123'456}},
      {"PtGAjm53Y-dWXtXZpAhwbU26rzSHv8I4ARa81mlsj_uj2YmS0UEaUTYHSg6HP9esNjvKkzqZLnGkCKltbo_dffcNTcvgjLGuTP4paLBp2egd"
       "LEi4uVmHJ1KazjAS7RV0IMtdXyQK4Oiur1FoUswL4G1FWOs60V2-c48Z1k2LexigtKFj5sLZ-TOVpHZa8TEiZuqGpF_7Dm262jKohVtBq_"
       "NWgC-8yFEgdtrxaeZ01WonNs9-LW0UNpoi3Pyt7OPCWoIN8be-IbO3a3rMNIQXFnOZOeHyNfUX51ddPz9wDDJy1qY8YGcXejufrlfYzx0l_"
       "UIPchhRe6U",
       {std::string(64, 'o'), std::string(64, 's'), std::string(64, 'u'), 0}},
  };
  for (const auto& g : golden) {
    const auto opened = codec.open(g.ticket, g.claims.issued_at);
    ASSERT_TRUE(opened) << g.ticket;
    EXPECT_TRUE(same(*opened, g.claims)) << g.ticket;
  }
}

// The layout, read back with libsodium alone: key id (first 4 bytes of the
// key's 16-byte BLAKE2b hash), 24-byte nonce, XChaCha20-Poly1305 of
// version 1 | issued_at big-endian | length-prefixed ids, the key id as
// associated data; all in unpadded base64url.
std::vector<unsigned char> raw_of(const std::string& ticket) {
  std::vector<unsigned char> raw(ticket.size());
  std::size_t len = 0;
  EXPECT_EQ(sodium_base642bin(raw.data(), raw.size(), ticket.data(), ticket.size(), nullptr, &len, nullptr,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING),
            0);
  raw.resize(len);
  return raw;
}

TEST(Ticket, LayoutIsKeyIdNonceAndCiphertext) {
  const TicketKey key = key_of(0x42);
  const TicketCodec codec({key}, ttl);
  const TicketClaims c{"o-1", "sale", "user-9", 0x0102030405060708};
  const auto raw = raw_of(codec.seal(c));
  ASSERT_GT(raw.size(), 4u + 24u + 16u);

  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, key.data(), key.size(), nullptr, 0);
  EXPECT_TRUE(std::equal(hash, hash + 4, raw.begin()));
  std::vector<unsigned char> plain(raw.size());
  unsigned long long plen = 0;
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr, raw.data() + 28,
                                                       raw.size() - 28, raw.data(), 4, raw.data() + 4, key.data()),
            0);
  plain.resize(plen);
  const std::vector<unsigned char> expected = {1,   1,   2,   3,   4,   5,   6,   7,   8,   3,   'o', '-', '1', 4,
                                               's', 'a', 'l', 'e', 6,   'u', 's', 'e', 'r', '-', '9'};
  EXPECT_EQ(plain, expected);
}

TEST(Ticket, ClaimLongerThanItsLengthByteIsABug) {
  const TicketCodec codec({key_of(0x61)}, ttl);
  TicketClaims c = claims();
  c.user_id = std::string(255, 'u');
  EXPECT_TRUE(codec.open(codec.seal(c), issued));
  c.user_id = std::string(256, 'u');
  EXPECT_THROW(codec.seal(c), std::invalid_argument);
}

// --- nonces ---

std::string nonce_of(const std::string& ticket) {
  const auto raw = raw_of(ticket);
  return std::string(raw.begin() + 4, raw.begin() + 28);
}

TEST(TicketNonce, ManySealsNeverRepeatANonce) {
  // Several refills of the per-thread pool (170 nonces each).
  const TicketCodec codec({key_of(0x71)}, ttl);
  std::set<std::string> nonces;
  for (int i = 0; i < 2000; ++i) nonces.insert(nonce_of(codec.seal(claims())));
  EXPECT_EQ(nonces.size(), 2000u);
}

TEST(TicketNonce, CodecsOnTheSameThreadShareNoNonce) {
  const TicketCodec a({key_of(0x72)}, ttl), b({key_of(0x73)}, ttl);
  std::set<std::string> nonces;
  for (int i = 0; i < 300; ++i) {
    nonces.insert(nonce_of(a.seal(claims())));
    nonces.insert(nonce_of(b.seal(claims())));
  }
  EXPECT_EQ(nonces.size(), 600u);
}

TEST(TicketNonce, ThreadsDrawDifferentNonces) {
  const TicketCodec codec({key_of(0x74)}, ttl);
  constexpr int threads = 4, per_thread = 500;
  std::vector<std::vector<std::string>> drawn(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&codec, &mine = drawn[static_cast<std::size_t>(t)]] {
      for (int i = 0; i < per_thread; ++i) mine.push_back(codec.seal(claims()));
    });
  for (auto& w : workers) w.join();
  std::set<std::string> nonces;
  for (const auto& tickets : drawn)
    for (const auto& t : tickets) nonces.insert(nonce_of(t));
  EXPECT_EQ(nonces.size(), static_cast<std::size_t>(threads * per_thread));
}

TEST(TicketNonce, ForkedChildDoesNotReuseItsParentsNonces) {
  const TicketCodec codec({key_of(0x75)}, ttl);
  codec.seal(claims());  // the pool is filled and partly used
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string nonce = nonce_of(codec.seal(claims()));
    const bool written = ::write(pipe_fds[1], nonce.data(), nonce.size()) == static_cast<ssize_t>(nonce.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  const std::string parent_nonce = nonce_of(codec.seal(claims()));
  std::string child_nonce(24, '\0');
  const ssize_t n = ::read(pipe_fds[0], child_nonce.data(), child_nonce.size());
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(n, 24);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(child_nonce, parent_nonce);
}

// --- parse_ticket_keys ---

TEST(TicketKeys, ParsesOneKey) {
  const std::string hex(64, 'a');
  const auto keys = parse_ticket_keys(hex);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], key_of(0xaa));
}

TEST(TicketKeys, ParsesTwoKeysNewestFirst) {
  const auto keys = parse_ticket_keys(std::string(64, '2') + "," + std::string(64, '1'));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], key_of(0x22));
  EXPECT_EQ(keys[1], key_of(0x11));
}

TEST(TicketKeys, AcceptsUpperCaseHex) {
  const auto keys = parse_ticket_keys(std::string(64, 'F'));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], key_of(0xff));
}

TEST(TicketKeys, ToHexRoundTrips) {
  const TicketKey a = random_ticket_key(), b = random_ticket_key();
  EXPECT_NE(a, b);
  const std::string hex_a = to_hex(a);
  EXPECT_EQ(hex_a.size(), 64u);
  const auto keys = parse_ticket_keys(hex_a + "," + to_hex(b));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], a);
  EXPECT_EQ(keys[1], b);
}

TEST(TicketKeys, ShortKeyIsRefused) {
  EXPECT_TRUE(parse_ticket_keys(std::string(62, 'a')).empty());
  EXPECT_TRUE(parse_ticket_keys(std::string(63, 'a')).empty());
  EXPECT_TRUE(parse_ticket_keys("abcd").empty());
}

TEST(TicketKeys, LongKeyIsRefused) {
  EXPECT_TRUE(parse_ticket_keys(std::string(65, 'a')).empty());
  EXPECT_TRUE(parse_ticket_keys(std::string(66, 'a')).empty());
}

TEST(TicketKeys, NonHexIsRefused) {
  EXPECT_TRUE(parse_ticket_keys(std::string(64, 'g')).empty());
  EXPECT_TRUE(parse_ticket_keys(std::string(63, 'a') + "z").empty());
  EXPECT_TRUE(parse_ticket_keys(std::string(32, 'a') + ":" + std::string(31, 'a')).empty());
}

TEST(TicketKeys, OneBadKeyAmongGoodOnesRefusesAll) {
  EXPECT_TRUE(parse_ticket_keys(std::string(64, 'a') + "," + std::string(10, 'b')).empty());
  EXPECT_TRUE(parse_ticket_keys("," + std::string(64, 'a')).empty());
  EXPECT_TRUE(parse_ticket_keys(std::string(64, 'a') + ",," + std::string(64, 'b')).empty());
}

TEST(TicketKeys, EmptyTextGivesNoKeys) { EXPECT_TRUE(parse_ticket_keys("").empty()); }

}  // namespace
