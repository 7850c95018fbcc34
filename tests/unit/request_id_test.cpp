// X-Request-Id: a client's own id is kept when it is short and printable;
// otherwise the server makes one, "<boot time>-<counter>" in hex, unique
// across threads.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/http/request_parser.hpp"

namespace {

using flashgate::gateway::http::assign_request_id;

TEST(RequestId, AClientsPrintableIdIsKept) {
  std::string id;
  assign_request_id(id, "trace-42/abc");
  EXPECT_EQ(id, "trace-42/abc");
}

// "<hex>-<hex>", each part 1 to 16 lower-case hex digits.
bool is_fresh(const std::string& id) {
  const auto dash = id.find('-');
  if (dash == std::string::npos || id.find('-', dash + 1) != std::string::npos) return false;
  auto hex = [](std::string_view part) {
    return !part.empty() && part.size() <= 16 &&
           part.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  };
  return hex(std::string_view(id).substr(0, dash)) && hex(std::string_view(id).substr(dash + 1));
}

TEST(RequestId, AnUnusableIdIsReplacedByAFreshOne) {
  for (const std::string& given : {std::string(), std::string("has space"), std::string(129, 'a'), std::string("tab\t")}) {
    std::string id = "left over";
    assign_request_id(id, given);
    EXPECT_TRUE(is_fresh(id)) << "for '" << given << "': " << id;
  }
}

TEST(RequestId, FreshIdsAreDistinctAcrossThreads) {
  constexpr int per_thread = 5000;
  std::vector<std::vector<std::string>> made(4);
  std::vector<std::thread> threads;
  for (auto& mine : made)
    threads.emplace_back([&mine] {
      std::string id;
      for (int i = 0; i < per_thread; ++i) {
        assign_request_id(id, "");
        mine.push_back(id);
      }
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& mine : made) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), made.size() * per_thread);
}

}  // namespace
