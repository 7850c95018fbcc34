#include "identity/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace flashgate::identity {
namespace {

// Boost.JSON's own parser handler (a value_stack) plus the keys of every
// object still open, so a repeated key stops the parse where it occurs.
struct StrictHandler {
  // Bounds that also bound the key comparisons below (quadratic per object).
  static constexpr std::size_t max_object_size = 1000;
  static constexpr std::size_t max_array_size = 10000;
  static constexpr std::size_t max_key_size = 1000;
  static constexpr std::size_t max_string_size = 1 << 20;

  boost::json::value_stack st;
  std::vector<std::string> keys;          // of all open objects, innermost last
  std::vector<std::size_t> object_start;  // where each open object's keys begin in `keys`
  std::string key;                        // a key arriving in parts
  bool duplicate = false;

  StrictHandler(unsigned char* scratch, std::size_t size) : st({}, scratch, size) {}

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    object_start.push_back(keys.size());
    return true;
  }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    keys.resize(object_start.back());
    object_start.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view part, std::size_t, boost::system::error_code&) {
    key.append(part.data(), part.size());
    st.push_chars(part);
    return true;
  }
  bool on_key(boost::json::string_view part, std::size_t, boost::system::error_code& ec) {
    key.append(part.data(), part.size());
    const auto open = keys.begin() + static_cast<std::ptrdiff_t>(object_start.back());
    if (std::find(open, keys.end(), key) != keys.end()) {
      duplicate = true;
      ec = boost::json::error::syntax;
      return false;
    }
    keys.push_back(std::move(key));
    key.clear();
    st.push_key(part);
    return true;
  }
  bool on_string_part(boost::json::string_view part, std::size_t, boost::system::error_code&) {
    st.push_chars(part);
    return true;
  }
  bool on_string(boost::json::string_view part, std::size_t, boost::system::error_code&) {
    st.push_string(part);
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, boost::json::string_view, boost::system::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

std::optional<boost::json::object> parse_strict_object(std::string_view text, boost::json::storage_ptr storage,
                                                       StrictJsonError* why, std::size_t max_depth) {
  const auto fail = [why](StrictJsonError error) {
    if (why) *why = error;
    return std::nullopt;
  };
  boost::json::parse_options options;
  options.max_depth = max_depth;
  options.allow_invalid_utf8 = false;
  unsigned char scratch[512];  // the value stack's own memory, for small documents without the heap
  boost::json::basic_parser<StrictHandler> parser(options, scratch, sizeof scratch);
  parser.handler().st.reset(std::move(storage));
  boost::system::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate) return fail(StrictJsonError::duplicate_key);
  if (ec || used != text.size()) return fail(StrictJsonError::not_json);
  boost::json::value value = parser.handler().st.release();
  if (!value.is_object()) return fail(StrictJsonError::not_object);
  return std::move(value.get_object());
}

}  // namespace flashgate::identity
