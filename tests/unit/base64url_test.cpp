#include "domain/base64url.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>
#include <string>
#include <vector>

namespace {

using flashgate::domain::base64url_length;
using flashgate::domain::decode_base64url;
using flashgate::domain::encode_base64url;

using Bytes = std::vector<unsigned char>;

const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encoded(const Bytes& bytes) {
  std::string text(base64url_length(bytes.size()), '?');
  encode_base64url(bytes.data(), bytes.size(), text.data());
  return text;
}

std::optional<Bytes> decoded(const std::string& text) {
  Bytes out(text.size() * 3 / 4);
  const auto n = decode_base64url(text, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

// What ticket opening accepted before: libsodium's decoder, then the
// re-encoded bytes spelled exactly as the text.
std::optional<Bytes> sodium_canonical(const std::string& text) {
  if (sodium_init() < 0) return std::nullopt;
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  Bytes raw(text.size() + 1);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(raw.data(), raw.size(), text.data(), text.size(), nullptr, &len, &end, variant) != 0 ||
      end != text.data() + text.size())
    return std::nullopt;
  std::string again(sodium_base64_encoded_len(len, variant), '\0');
  sodium_bin2base64(again.data(), again.size(), raw.data(), len, variant);
  again.pop_back();
  if (again != text) return std::nullopt;
  raw.resize(len);
  return raw;
}

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<unsigned char>(rng());
  return b;
}

TEST(Base64url, EncodesAsLibsodium) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937 rng(7);
  for (std::size_t n = 0; n <= 300; ++n) {
    const Bytes b = random_bytes(rng, n);
    std::string expected(sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(expected.data(), expected.size(), b.data(), n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    expected.pop_back();
    ASSERT_EQ(encoded(b), expected) << n << " bytes";
  }
}

TEST(Base64url, DecodesWhatItEncodes) {
  std::mt19937 rng(8);
  for (std::size_t n = 0; n <= 300; ++n) {
    const Bytes b = random_bytes(rng, n);
    ASSERT_EQ(decoded(encoded(b)), b) << n << " bytes";
  }
}

TEST(Base64url, LengthOfOneModFourIsRefused) {
  for (const char* text : {"A", "AAAAA", "AAAAAAAAA"}) EXPECT_FALSE(decoded(text)) << text;
}

TEST(Base64url, UnusedBitsOfTheLastCharacterMustBeZero) {
  std::size_t one_byte = 0, two_bytes = 0;
  for (char last : alphabet) {
    one_byte += decoded(std::string("Q") + last).has_value();    // 4 low bits unused
    two_bytes += decoded(std::string("QU") + last).has_value();  // 2 low bits unused
  }
  EXPECT_EQ(one_byte, 4u);
  EXPECT_EQ(two_bytes, 16u);
  EXPECT_TRUE(decoded("QQ"));
  EXPECT_FALSE(decoded("QR"));
}

TEST(Base64url, PaddingAndOtherAlphabetsAreRefused) {
  for (const char* text : {"QQ==", "QUE=", "QU+B", "QU/B", "QU B", "QUE\n", "QU.B"}) EXPECT_FALSE(decoded(text)) << text;
  EXPECT_FALSE(decoded(std::string("QU\0B", 4)));
  EXPECT_FALSE(decoded("QU\xff" "B"));
}

// The acceptance rule is exactly the one tickets had with libsodium: the same
// texts decode, to the same bytes.
TEST(Base64url, AcceptsExactlyWhatLibsodiumAndTheCanonicalCheckAccepted) {
  std::mt19937 rng(9);
  const std::string foreign = std::string("=+/ .\n") + '\0' + "\x80\xff";
  std::size_t accepted = 0;
  for (int i = 0; i < 100'000; ++i) {
    std::string text(rng() % 24, 'A');
    for (char& c : text) c = rng() % 50 == 0 ? foreign[rng() % foreign.size()] : alphabet[rng() % 64];
    const auto mine = decoded(text);
    ASSERT_EQ(mine, sodium_canonical(text)) << text;
    accepted += mine.has_value();
  }
  EXPECT_GT(accepted, 10'000u);  // both outcomes were exercised
}

}  // namespace
