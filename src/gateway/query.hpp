#pragma once
// A query's parameters, split once at its '&'s (a handler that asks for
// three of them scans the query once, not three times).
#include <boost/container/small_vector.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace flashgate::gateway {

class QueryParams {
 public:
  explicit QueryParams(std::string_view query);
  // The first parameter `name`, percent-decoded; nullopt if absent or if its
  // escapes are broken. A value without escapes (a ticket, a number) is a
  // view into the query, not a copy; one with escapes is decoded into
  // `decoded`, which the view then points into: both must outlive it.
  std::optional<std::string_view> get(std::string_view name, std::string& decoded) const;

 private:
  struct Param {
    std::string_view key;  // raw, as in the query
    std::string_view value;
    bool has_value;  // "key=" has one (empty), "key" has none
    bool key_escaped;
  };
  boost::container::small_vector<Param, 4> params_;
};

}  // namespace flashgate::gateway
