#include "gateway/router.hpp"

#include <boost/url/decode_view.hpp>
#include <boost/url/grammar/error.hpp>
#include <boost/url/rfc/pct_encoded_rule.hpp>

namespace flashgate::gateway {
namespace {

template <class Out>
void split_path(std::string_view path, Out& out) {
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
}

// Each segment is decoded on its own, so an encoded '/' (%2F) stays inside
// its segment instead of changing the route. `out` is the calling thread's
// scratch: its strings keep their capacity from one request to the next.
bool decode_segments(std::string_view raw, std::vector<std::string>& out, std::size_t& count) {
  thread_local std::vector<std::string_view> parts;
  parts.clear();
  split_path(raw, parts);
  if (out.size() < parts.size()) out.resize(parts.size());
  count = parts.size();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto checked = boost::urls::make_pct_string_view(parts[i]);
    if (!checked) return false;
    auto& decoded = out[i];
    decoded.clear();
    if (checked->decoded_size() == parts[i].size()) {
      decoded.assign(parts[i]);  // nothing encoded
      continue;
    }
    decoded.reserve(checked->decoded_size());
    for (char c : **checked) decoded += c;  // *checked is the encoded view; ** its decode_view
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route route{std::move(method), std::move(pattern), {}, std::move(handler)};
  std::vector<std::string_view> parts;
  split_path(route.pattern, parts);
  route.segments.assign(parts.begin(), parts.end());
  route.direct = route.pattern.find('{') == std::string::npos;
  for (const auto& earlier : routes_)
    if (earlier.method == route.method && match(earlier, route.segments, nullptr)) route.direct = false;
  routes_.push_back(std::move(route));
}

bool Router::match(const Route& route, std::span<const std::string> path,
                   std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto& seg = route.segments[i];
    const bool variable = seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
    if (variable ? path[i].empty() : seg != path[i]) return false;
  }
  if (params) {
    for (std::size_t i = 0; i < path.size(); ++i) {
      const auto& seg = route.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}')
        params->emplace_back(seg.substr(1, seg.size() - 2), path[i]);
    }
  }
  return true;
}

void Router::dispatch(const ExchangePtr& exchange) const {
  Request& request = exchange->request();
  if (request.path.empty() || request.path.front() != '/') {
    exchange->set_route("unknown");
    return exchange->respond(error_response(domain::ErrorCode::not_found, "no such resource"));
  }
  // The common case, a literal route asked for with nothing encoded, without
  // splitting and decoding the path: the same route the loop below would find.
  if (request.path.find('%') == std::string::npos) {
    for (const auto& route : routes_) {
      if (!route.direct || route.pattern != request.path || route.method != request.method) continue;
      request.params.clear();
      exchange->set_route(route.pattern);
      return route.handler(exchange);
    }
  }
  thread_local std::vector<std::string> decoded;
  std::size_t segments = 0;
  if (!decode_segments(request.path, decoded, segments)) {
    exchange->set_route("unknown");
    return exchange->respond(error_response(domain::ErrorCode::invalid_request, "malformed percent-encoding in the path"));
  }
  const std::span<const std::string> path(decoded.data(), segments);
  for (const auto& route : routes_) {
    if (!match(route, path, nullptr)) continue;
    const bool head_of_get = request.method == "HEAD" && route.method == "GET";
    if (route.method != request.method && !head_of_get) continue;
    request.params.clear();
    match(route, path, &request.params);
    exchange->set_route(route.pattern);
    return route.handler(exchange);
  }
  std::string allow;
  for (const auto& route : routes_) {
    if (!match(route, path, nullptr)) continue;
    if (!allow.empty()) allow += ", ";
    allow += route.method;
  }
  if (allow.empty()) {
    exchange->set_route("unknown");
    return exchange->respond(error_response(domain::ErrorCode::not_found, "no such resource"));
  }
  exchange->set_route("method_not_allowed");
  Response r = error_response(domain::ErrorCode::method_not_allowed, "method not allowed here");
  r.headers.emplace_back("Allow", allow);
  exchange->respond(std::move(r));
}

}  // namespace flashgate::gateway
