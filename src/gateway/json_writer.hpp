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

// Writes s as a JSON string, quotes included, escaped as append_json_string
// does, at `out`, which has room for json_string_room(s.size()) bytes.
// Returns the end of what it wrote.
char* write_json_string(char* out, std::string_view s);
constexpr std::size_t json_string_room(std::size_t size) { return 6 * size + 2; }

// Objects only, which is all the API answers with. The caller writes a key,
// then its value; commas are the writer's business. It writes through a
// pointer into a string sized in advance and grown when a piece would not
// fit: std::string::append's checks and calls were half of a poll's render.
class JsonWriter {
 public:
  // reserve: the expected size of the whole text, so that it is allocated once.
  explicit JsonWriter(std::size_t reserve) {
    out_.resize(reserve < 16 ? 16 : reserve);
    cur_ = out_.data();
    end_ = cur_ + out_.size();
  }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& begin_object() {
    *room(1) = '{';
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    *room(1) = '}';
    first_ = false;  // a nested object was a member of its parent
    return *this;
  }
  JsonWriter& begin_array() {
    *room(1) = '[';
    first_ = true;
    return *this;
  }
  // Before each value of an array: its comma.
  JsonWriter& item() {
    if (!first_) *room(1) = ',';
    first_ = false;
    return *this;
  }
  JsonWriter& end_array() {
    *room(1) = ']';
    first_ = false;
    return *this;
  }
  // name: one of the API's field names (or status names), plain ASCII that
  // needs no escaping, so it is copied as it is; values are always escaped.
  JsonWriter& key(std::string_view name) {
    assert(is_plain(name));
    char* p = room(name.size() + 4);
    if (!first_) *p++ = ',';
    first_ = false;
    *p++ = '"';
    p = copy(p, name);
    *p++ = '"';
    *p++ = ':';
    cur_ = p;
    return *this;
  }

  JsonWriter& string(std::string_view s) {
    cur_ = write_json_string(room(json_string_room(s.size())), s);
    return *this;
  }
  // A string known to need no escaping (base64url tickets, URLs made of them,
  // timestamps, status names): copied as it is.
  JsonWriter& plain_string(std::string_view s) { return plain_string(s, {}); }
  JsonWriter& plain_string(std::string_view a, std::string_view b) {
    assert(is_plain(a) && is_plain(b));
    char* p = room(a.size() + b.size() + 2);
    *p++ = '"';
    p = copy(copy(p, a), b);
    *p++ = '"';
    cur_ = p;
    return *this;
  }
  // One string of a followed by b, without concatenating them first.
  JsonWriter& string(std::string_view a, std::string_view b);
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonWriter& number(T value) {
    char* p = room(24);
    cur_ = std::to_chars(p, p + 24, value).ptr;
    return *this;
  }
  JsonWriter& null() {
    copy(room(4), "null");
    return *this;
  }

  std::string take() {
    out_.resize(static_cast<std::size_t>(cur_ - out_.data()));
    cur_ = end_ = nullptr;
    return std::move(out_);
  }

  // Printable ASCII without '"' or '\\': a JSON string as it is (what the
  // plain_ writers' callers promise; checked in debug builds).
  static bool is_plain(std::string_view text) {
    for (char c : text)
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    return true;
  }

 private:
  // n bytes at the end of the text, to be written; the text ends past them
  // unless the caller sets cur_ itself (where it wrote less).
  char* room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - cur_) < n) grow(n);
    char* p = cur_;
    cur_ += n;
    return p;
  }
  void grow(std::size_t n);
  static char* copy(char* p, std::string_view s) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view's data() may be null
    return p + s.size();
  }

  std::string out_;
  char* cur_;
  char* end_;
  bool first_ = true;
};

}  // namespace flashgate::gateway
