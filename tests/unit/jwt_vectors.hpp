#pragma once
// The keys and tokens PyJWT made (tests/unit/jwt_vectors.py), read once.
#include <boost/json.hpp>

#include <string>

#include "jwt_vectors.inc"

inline const boost::json::object& jwt_vectors() {
  static const boost::json::object vectors = boost::json::parse(jwt_vectors_json).as_object();
  return vectors;
}

inline std::string jwt_vectors_text(std::string_view name) {
  const auto& v = jwt_vectors().at(name);
  return v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v);
}
