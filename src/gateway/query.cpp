#include <boost/url/parse_query.hpp>

#include "gateway/api.hpp"

namespace flashgate::gateway {

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto params = boost::urls::parse_query(query);
  if (!params) return std::nullopt;
  for (auto param : *params) {
    if (param.key != name) continue;
    if (!param.has_value) return std::string();
    return std::string(param.value);
  }
  return std::nullopt;
}

}  // namespace flashgate::gateway
