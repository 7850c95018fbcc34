#pragma once
// The values that cross the Redis client's boundary: a reply owned by the
// caller (hiredis frees its own as soon as the callback returns) and a Lua
// script named by its SHA-1, the way EVALSHA names it.
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis; only the .cpp needs its definition

namespace flashgate::store::redis {

struct Reply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status or error text
  std::vector<Reply> elements;

  // Neither an error from Redis nor a failure to reach it.
  bool ok() const { return type != Type::error; }
  // The link failed, not the command: it may or may not have run, the caller decides to retry.
  bool connection_failed() const;

  static Reply error(std::string text);
  static Reply connection_error(std::string_view why);  // "CONNECTION " + why
};

// A deep copy of what hiredis parsed.
Reply from_hiredis(const redisReply& reply);

// For logs and test failures: "(integer) 3", "\"text\"", "[...]".
std::string describe(const Reply& reply);

std::string sha1_hex(std::string_view data);

struct Script {
  std::string source;
  std::string sha1;  // computed here, so EVALSHA needs no round trip first
  explicit Script(std::string lua) : source(std::move(lua)), sha1(sha1_hex(source)) {}
};

// Every client runs a script the same way: EVALSHA, and on NOSCRIPT (the
// script did not run, so it cannot run twice) the same call again as EVAL,
// which also loads it.
std::vector<std::string> evalsha_call(const Script& script, std::vector<std::string> keys,
                                      std::vector<std::string> args);
// Turns an evalsha_call into its EVAL form.
void as_eval(std::vector<std::string>& call, const Script& script);
bool is_noscript(const Reply& reply);

}  // namespace flashgate::store::redis
