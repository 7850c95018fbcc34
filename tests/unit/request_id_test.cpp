// X-Request-Id: a client's own id is kept when it is short and printable;
// otherwise the server makes one, "<boot time>-<counter>" in hex, unique
// across threads.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
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

TEST(RequestId, AnUnusableIdIsReplacedByAFreshOne) {
  const std::regex fresh("[0-9a-f]{1,16}-[0-9a-f]{1,16}");
  for (const std::string& given : {std::string(), std::string("has space"), std::string(129, 'a'), std::string("tab\t")}) {
    std::string id = "left over";
    assign_request_id(id, given);
    EXPECT_TRUE(std::regex_match(id, fresh)) << "for '" << given << "': " << id;
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
