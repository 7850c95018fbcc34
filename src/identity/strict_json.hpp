#pragma once
// JSON objects read strictly: valid UTF-8, bounded depth, and no key twice in
// any object. Boost.JSON (1.81) keeps the last of two equal keys silently,
// which would let a token or a key mean one thing here and another to its
// issuer; a strict reader refuses such text instead.
#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include <optional>
#include <string_view>

namespace flashgate::identity {

enum class StrictJsonError { not_json, duplicate_key, not_object };

// The object `text` holds, allocated from `storage`; nullopt (and `why`, if
// given) when the text is not a JSON object, is nested deeper than
// `max_depth`, or repeats a key in any of its objects.
std::optional<boost::json::object> parse_strict_object(std::string_view text, boost::json::storage_ptr storage = {},
                                                       StrictJsonError* why = nullptr, std::size_t max_depth = 16);

}  // namespace flashgate::identity
