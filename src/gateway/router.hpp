#pragma once
// Maps method and path pattern ("/api/sales/{sale_id}") to a handler; a path
// that matches with the wrong method gets 405 with Allow.
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gateway/exchange.hpp"

namespace flashgate::gateway {

using Handler = std::function<void(const ExchangePtr&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  void dispatch(const ExchangePtr& exchange) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    // No variables, and no earlier route of its method takes its path: a
    // request whose raw path is exactly the pattern is this route's.
    bool direct = false;
  };
  // `params`, if given, receives the pattern's variables.
  static bool match(const Route& route, std::span<const std::string> path,
                    std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Route> routes_;
};

}  // namespace flashgate::gateway
