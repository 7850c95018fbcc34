#include "gateway/json_body.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parser.hpp>

#include <algorithm>

#include "domain/ids.hpp"

namespace flashgate::gateway {

using domain::Error;
using domain::ErrorCode;

std::optional<std::string_view> sole_id_member(std::string_view body, std::string_view field) {
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
  };
  const auto take = [&](char c) {
    skip_space();
    if (i >= body.size() || body[i] != c) return false;
    ++i;
    return true;
  };
  if (!take('{') || !take('"')) return std::nullopt;
  if (body.substr(i, field.size()) != field || body.substr(i + field.size(), 1) != "\"") return std::nullopt;
  i += field.size() + 1;
  if (!take(':') || !take('"')) return std::nullopt;
  const std::size_t begin = i;
  while (i < body.size() && domain::is_id_char(body[i])) ++i;
  const std::string_view value = body.substr(begin, i - begin);
  if (i >= body.size() || body[i] != '"') return std::nullopt;
  ++i;
  if (!take('}')) return std::nullopt;
  skip_space();
  if (i != body.size()) return std::nullopt;
  return value;
}

namespace {

Error invalid(std::string message) { return Error{ErrorCode::invalid_request, std::move(message)}; }

// Boost.JSON's object silently keeps the last of two equal keys; a strict API
// refuses them, so a first pass with basic_parser tracks the keys per object.
struct DuplicateKeyCheck {
  static constexpr std::size_t max_object_size = 1000;
  static constexpr std::size_t max_array_size = 10000;
  static constexpr std::size_t max_key_size = 1000;
  static constexpr std::size_t max_string_size = 100000;

  std::vector<std::vector<std::string>> objects;
  std::string key;
  bool duplicate = false;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    objects.pop_back();
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(std::string_view part, std::size_t, boost::system::error_code&) {
    key.append(part);
    return true;
  }
  bool on_key(std::string_view part, std::size_t, boost::system::error_code& ec) {
    key.append(part);
    auto& seen = objects.back();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      duplicate = true;
      ec = boost::json::error::syntax;
      return false;
    }
    seen.push_back(std::move(key));
    key.clear();
    return true;
  }
  bool on_number_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, std::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, std::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, std::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }
};

bool has_duplicate_keys(std::string_view body, const boost::json::parse_options& options) {
  boost::json::basic_parser<DuplicateKeyCheck> checker(options);
  boost::system::error_code ec;
  checker.write_some(false, body.data(), body.size(), ec);
  return checker.handler().duplicate;
}

}  // namespace

domain::Result<boost::json::object> parse_json_object(std::string_view body, boost::json::storage_ptr storage) {
  boost::json::parse_options options;
  options.max_depth = 16;
  options.allow_invalid_utf8 = false;
  unsigned char scratch[512];  // the parser's own stack, for bodies this size without the heap
  boost::json::parser parser(boost::json::storage_ptr(), options, scratch, sizeof scratch);
  parser.reset(std::move(storage));
  boost::system::error_code ec;
  parser.write(body.data(), body.size(), ec);
  if (ec) return invalid("the body must be valid JSON (UTF-8, at most 16 levels deep)");
  boost::json::value value = parser.release();
  if (!value.is_object()) return invalid("the body must be a JSON object");
  if (has_duplicate_keys(body, options)) return invalid("the body has a duplicate key");
  return std::move(value.get_object());
}

domain::Result<std::string> required_string(const boost::json::object& obj, std::string_view field) {
  const auto* v = obj.if_contains(field);
  if (!v) return invalid(std::string(field) + " is required");
  if (!v->is_string()) return invalid(std::string(field) + " must be a string");
  return std::string(v->get_string());
}

domain::Result<std::optional<std::string>> optional_string(const boost::json::object& obj, std::string_view field) {
  const auto* v = obj.if_contains(field);
  if (!v || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) return invalid(std::string(field) + " must be a string or null");
  return std::optional<std::string>(std::string(v->get_string()));
}

domain::Result<std::int64_t> required_integer(const boost::json::object& obj, std::string_view field) {
  const auto* v = obj.if_contains(field);
  if (!v) return invalid(std::string(field) + " is required");
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return invalid(std::string(field) + " is out of range");
  return invalid(std::string(field) + " must be an integer");
}

std::optional<Error> only_fields(const boost::json::object& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj)
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end())
      return invalid("unknown field " + std::string(kv.key()));
  return std::nullopt;
}

}  // namespace flashgate::gateway
