#pragma once
// A minimal JSON writer for the answers sent on every request: it appends
// straight into one string instead of building a boost::json DOM and
// serializing it (which cost more than the rest of a poll). Its output is
// byte for byte what boost::json::serialize gives for the same object; the
// unit tests hold it to that.
#include <cassert>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace flashgate::gateway {

// Appends s as a JSON string, quotes included, escaped as boost::json does:
// '"' and '\' with a backslash, \b \f \n \r \t short, the other control
// characters as \u00xx; every other byte (UTF-8 included) as it is.
void append_json_string(std::string& out, std::string_view s);

// Objects only, which is all the API answers with. The caller writes a key,
// then its value; commas are the writer's business.
class JsonWriter {
 public:
  // reserve: the expected size of the whole text, so that it is allocated once.
  explicit JsonWriter(std::size_t reserve) { out_.reserve(reserve); }

  JsonWriter& begin_object() {
    out_ += '{';
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    out_ += '}';
    first_ = false;  // a nested object was a member of its parent
    return *this;
  }
  // name: one of the API's field names (or status names), plain ASCII that
  // needs no escaping, so it is copied as it is; values are always escaped.
  JsonWriter& key(std::string_view name) {
    assert(is_plain(name));
    char piece[48];  // ,"name": in one append
    std::size_t n = 0;
    if (!first_) piece[n++] = ',';
    piece[n++] = '"';
    first_ = false;
    if (n + name.size() + 2 > sizeof piece) {  // a name longer than the API's: in pieces
      out_.append(piece, n);
      out_ += name;
      out_ += "\":";
      return *this;
    }
    std::memcpy(piece + n, name.data(), name.size());
    n += name.size();
    piece[n++] = '"';
    piece[n++] = ':';
    out_.append(piece, n);
    return *this;
  }

  JsonWriter& string(std::string_view s) {
    append_json_string(out_, s);
    return *this;
  }
  // A string known to need no escaping (base64url tickets, URLs made of them,
  // timestamps, status names): copied as it is.
  JsonWriter& plain_string(std::string_view s) {
    assert(is_plain(s));
    out_ += '"';
    out_ += s;
    out_ += '"';
    return *this;
  }
  JsonWriter& plain_string(std::string_view a, std::string_view b) {
    assert(is_plain(a) && is_plain(b));
    out_ += '"';
    out_ += a;
    out_ += b;
    out_ += '"';
    return *this;
  }
  // One string of a followed by b, without concatenating them first.
  JsonWriter& string(std::string_view a, std::string_view b);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonWriter& number(T value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, static_cast<std::size_t>(end - digits));
    return *this;
  }
  JsonWriter& null() {
    out_ += "null";
    return *this;
  }

  std::string take() { return std::move(out_); }

  // Printable ASCII without '"' or '\\': a JSON string as it is (what the
  // plain_ writers' callers promise; checked in debug builds).
  static bool is_plain(std::string_view text) {
    for (char c : text)
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    return true;
  }

 private:
  std::string out_;
  bool first_ = true;
};

}  // namespace flashgate::gateway
