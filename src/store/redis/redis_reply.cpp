#include "store/redis/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <array>
#include <bit>
#include <cstdint>
#include <iterator>

namespace flashgate::store::redis {

namespace {
constexpr std::string_view connection_prefix = "CONNECTION";
}

bool Reply::connection_failed() const { return type == Type::error && str.starts_with(connection_prefix); }

Reply Reply::error(std::string text) {
  Reply r;
  r.type = Type::error;
  r.str = std::move(text);
  return r;
}

Reply Reply::connection_error(std::string_view why) {
  std::string text(connection_prefix);
  text += ' ';
  text += why;
  return error(std::move(text));
}

Reply from_hiredis(const redisReply& reply) {
  Reply r;
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      r.type = Reply::Type::integer;
      r.integer = reply.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      r.type = reply.type == REDIS_REPLY_STRING   ? Reply::Type::string
               : reply.type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                  : Reply::Type::error;
      r.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ARRAY:
      r.type = Reply::Type::array;
      r.elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) r.elements.push_back(from_hiredis(*reply.element[i]));
      break;
    case REDIS_REPLY_NIL:
      break;
    default:  // a newer protocol type this hiredis should never hand us
      return Reply::error("ERR unsupported reply type " + std::to_string(reply.type));
  }
  return r;
}

std::string describe(const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::nil: return "(nil)";
    case Reply::Type::integer: return "(integer) " + std::to_string(reply.integer);
    case Reply::Type::string: return '"' + reply.str + '"';
    case Reply::Type::status: return reply.str;
    case Reply::Type::error: return "(error) " + reply.str;
    case Reply::Type::array: {
      std::string out = "[";
      for (const auto& element : reply.elements) {
        if (out.size() > 1) out += ", ";
        out += describe(element);
      }
      return out + "]";
    }
  }
  return {};
}

// SHA-1 (FIPS 180-4) only to name scripts the way Redis does; not for security.
std::string sha1_hex(std::string_view data) {
  std::array<std::uint32_t, 5> h = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};

  std::string message(data);
  message += static_cast<char>(0x80);
  while (message.size() % 64 != 56) message += '\0';
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int shift = 56; shift >= 0; shift -= 8) message += static_cast<char>((bits >> shift) & 0xff);

  std::array<std::uint32_t, 80> w{};
  for (std::size_t block = 0; block < message.size(); block += 64) {
    for (std::size_t i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(message.data() + block + 4 * i);
      w[i] = std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
    }
    for (std::size_t i = 16; i < 80; ++i) w[i] = std::rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

    auto [a, b, c, d, e] = h;
    for (std::size_t i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999u;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1u;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDCu;
      else f = b ^ c ^ d, k = 0xCA62C1D6u;
      const std::uint32_t next = std::rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = std::rotl(b, 30);
      b = a;
      a = next;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }

  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(40);
  for (const std::uint32_t word : h)
    for (int shift = 28; shift >= 0; shift -= 4) hex += digits[(word >> shift) & 0xf];
  return hex;
}

std::vector<std::string> evalsha_call(const Script& script, std::vector<std::string> keys,
                                      std::vector<std::string> args) {
  std::vector<std::string> call;
  call.reserve(3 + keys.size() + args.size());
  call.push_back("EVALSHA");
  call.push_back(script.sha1);
  call.push_back(std::to_string(keys.size()));
  std::move(keys.begin(), keys.end(), std::back_inserter(call));
  std::move(args.begin(), args.end(), std::back_inserter(call));
  return call;
}

void as_eval(std::vector<std::string>& call, const Script& script) {
  call[0] = "EVAL";
  call[1] = script.source;
}

bool is_noscript(const Reply& reply) { return reply.type == Reply::Type::error && reply.str.starts_with("NOSCRIPT"); }

}  // namespace flashgate::store::redis
