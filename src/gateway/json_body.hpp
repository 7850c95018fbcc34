#pragma once
// Strict reading of JSON request bodies: one object, no duplicate keys, valid
// UTF-8, bounded nesting; field readers name the field in their error.
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/errors.hpp"

namespace flashgate::gateway {

// The object's memory comes from `storage` (default: the heap); a caller may
// pass a monotonic resource over a buffer of its own, which must outlive it.
domain::Result<boost::json::object> parse_json_object(std::string_view body, boost::json::storage_ptr storage = {});

// Each returns the value, or an invalid_request Error naming the field.
domain::Result<std::string> required_string(const boost::json::object& obj, std::string_view field);
domain::Result<std::optional<std::string>> optional_string(const boost::json::object& obj, std::string_view field);
domain::Result<std::int64_t> required_integer(const boost::json::object& obj, std::string_view field);
// The fast path of a body that is one object with one member, `field`,
// whose value is a string of id characters ([A-Za-z0-9._:-], which need no
// escaping): that string, as parse_json_object and required_string would
// read it. nullopt for anything else (other spellings, escapes, more
// members, not JSON): the caller then takes the full, strict path, which
// gives the same result for every body this accepts.
std::optional<std::string_view> sole_id_member(std::string_view body, std::string_view field);

// Refuses any key not in `allowed`.
std::optional<domain::Error> only_fields(const boost::json::object& obj, std::initializer_list<std::string_view> allowed);

}  // namespace flashgate::gateway
