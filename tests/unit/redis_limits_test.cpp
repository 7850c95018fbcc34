// The stream lengths of redis_limits.hpp are the scripts' too: no script is
// left with a limit unfilled, and on a real redis-server the streams the
// scripts write are trimmed to the named lengths.
#include "store/redis/redis_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis_server_fixture.hpp"
#include "store/redis/scripts.hpp"

namespace {

using namespace flashgate::testing;
namespace limits = flashgate::store::redis::limits;
namespace scripts = flashgate::store::redis::scripts;
using flashgate::store::redis::describe;

class RedisLimitsTest : public RedisAdminTest {
 protected:
  void SetUp() override {
    RedisAdminTest::SetUp();
    prefix_ = key("fg:{t}:");
    const auto node = admin_->command_sync({"CONFIG", "GET", "stream-node-max-entries"});
    ASSERT_EQ(node.elements.size(), 2u) << describe(node);
    node_entries_ = std::stoul(node.elements[1].str);
  }

  Reply eval(const flashgate::store::redis::Script& script, std::vector<std::string> keys,
             std::vector<std::string> args) {
    Reply r = admin_->eval_sync(script, std::move(keys), std::move(args));
    EXPECT_TRUE(r.ok()) << describe(r);
    return r;
  }

  // `count` entries more in `stream`, written by one script: the test's own
  // entries, untrimmed, so that the next write of a store script is the one
  // that trims.
  void fill(const std::string& stream, std::size_t count) {
    const auto r = admin_->command_sync(
        {"EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', 'f', 'v') end return 1", "1",
         stream, std::to_string(count)});
    ASSERT_TRUE(r.ok()) << describe(r);
  }

  // Past the named length by ten nodes: an approximate trim removes whole
  // nodes (up to a hundred per write), so all ten go in one write.
  std::size_t overfilled(std::size_t maxlen) const { return maxlen + 10 * node_entries_; }

  std::size_t length(const std::string& stream) {
    const auto r = admin_->command_sync({"XLEN", stream});
    EXPECT_EQ(r.type, Reply::Type::integer) << describe(r);
    return static_cast<std::size_t>(r.integer);
  }

  // XADD MAXLEN ~ n keeps at least n entries and less than a node more.
  void expect_trimmed_to(const std::string& stream, std::size_t maxlen) {
    const auto left = length(stream);
    EXPECT_GE(left, maxlen);
    EXPECT_LT(left, maxlen + node_entries_);
  }

  void create_sale() {
    ASSERT_EQ(eval(scripts::create_sale(), {sale_key()}, {"s", "item", "10", "", "", "1000"}).integer, 1);
  }

  std::string sale_key() const { return prefix_ + "sale:s"; }
  std::string changes_key() const { return prefix_ + "changes"; }

  std::string prefix_;
  std::size_t node_entries_ = 0;
};

TEST_F(RedisLimitsTest, EveryScriptHasItsLimitsFilledIn) {
  const auto scripts = scripts::all();
  ASSERT_EQ(scripts.size(), 25u);
  for (const auto* script : scripts) EXPECT_EQ(script->source.find('@'), std::string::npos) << script->source;
  // The claim's decaying start rate: domain::RateMeter's time constant and reset.
  EXPECT_NE(scripts::claim().source.find("now - at >= " + std::to_string(limits::rate_idle_reset_ms) + " then"),
            std::string::npos);
  EXPECT_NE(scripts::claim().source.find("/ " + std::to_string(limits::rate_tau_ms) + ") + 0.2"), std::string::npos);
}

TEST_F(RedisLimitsTest, TheChangeFeedIsTrimmedToItsNamedLength) {
  create_sale();
  // The intake writes its feed entry itself.
  fill(changes_key(), overfilled(limits::changes_maxlen));
  const auto order_key = prefix_ + "order:t-o1";
  const auto accepted = eval(scripts::intake(),
                             {sale_key(), prefix_ + "users:s", prefix_ + "queue", changes_key(), prefix_ + "held:s", order_key},
                             {prefix_, "s", "u1", "t-o1", "5000"});
  ASSERT_EQ(accepted.elements.at(0).str, "accepted") << describe(accepted);
  expect_trimmed_to(changes_key(), limits::changes_maxlen);

  // Every other change goes through the scripts' shared publish().
  ASSERT_TRUE(admin_->command_sync({"HSET", order_key, "status", "PROCESSING"}).ok());
  fill(changes_key(), overfilled(limits::changes_maxlen) - length(changes_key()));
  const auto finished = eval(scripts::finish(), {order_key, changes_key(), prefix_ + "confirmed", prefix_ + "outcomes"},
                             {prefix_, "CONFIRMED", "", "6000", ""});
  ASSERT_EQ(finished.elements.at(0).str, "done") << describe(finished);
  expect_trimmed_to(changes_key(), limits::changes_maxlen);
}

// fg:dropped is written by SaleArchive (no script touches a global key):
// redis_archive_test.cpp checks its length.

}  // namespace
