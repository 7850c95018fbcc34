// The Lua of a draw sale (draw_scripts.cpp) on a real redis-server: the
// intake's ENTERED branch, the seed that closes the entrant set, reading the
// entrants, applying a result once, and the drawn marker after which the
// intake is first-come behind the drawn.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "redis_server_fixture.hpp"
#include "store/redis/scripts.hpp"

namespace {

using namespace flashgate::testing;
namespace scripts = flashgate::store::redis::scripts;
using flashgate::store::redis::describe;
using Fields = std::map<std::string, std::string>;

class RedisDrawScriptsTest : public RedisServerTest {
 protected:
  void SetUp() override {
    RedisServerTest::SetUp();
    client_ = std::make_unique<RedisClient>(options());
    ASSERT_TRUE(client_->wait_connected(patience));
    prefix_ = key("fg:{t}:");
  }

  std::string sale_key() const { return prefix_ + "sale:s"; }
  std::string users_key() const { return prefix_ + "users:s"; }
  std::string queue_key() const { return prefix_ + "queue"; }
  std::string changes_key() const { return prefix_ + "changes"; }
  std::string outcomes_key() const { return prefix_ + "outcomes"; }
  std::string entrants_key() const { return prefix_ + "entrants:s"; }
  std::string order_key(const std::string& id) const { return prefix_ + "order:" + id; }

  Reply eval(const flashgate::store::redis::Script& script, std::vector<std::string> keys,
             std::vector<std::string> args) {
    Reply r = client_->eval_sync(script, std::move(keys), std::move(args));
    EXPECT_TRUE(r.ok()) << describe(r);
    return r;
  }
  Reply command(std::vector<std::string> args) { return client_->command_sync(std::move(args)); }

  // Entry opens at 1000, starts_at 2000, the draw at 3000 (window 1 s, prequeue 1 s).
  void create_draw_sale(int stock, int max_per_buyer = 1) {
    auto r = eval(scripts::create_sale(), {sale_key()},
                  {"s", "item", std::to_string(stock), "2000", "", "500", std::to_string(max_per_buyer),
                   // One bucket of one (ARGV 8-10), then the draw's fields.
                   "1", "0", std::to_string(stock), "draw", "1000", "1000", "1000", "3000"});
    ASSERT_EQ(r.integer, 1);
  }

  Reply intake(const std::string& user, const std::string& order_id, const std::string& now,
               const std::string& quantity = "1", const std::string& request_id = "") {
    return eval(scripts::intake(), {sale_key(), users_key(), queue_key(), changes_key(), prefix_ + "held:s",
                                    prefix_ + "order:" + order_id, entrants_key()},
                {prefix_, "s", user, order_id, now, quantity, request_id});
  }
  Reply seed(const std::string& seed_hex, const std::string& now) {
    return eval(scripts::seed_draw(), {sale_key(), entrants_key()}, {prefix_, "s", seed_hex, now});
  }
  Reply apply(const std::vector<std::pair<std::string, int>>& positions, const std::string& now = "3100") {
    std::vector<std::string> args{prefix_, "s", now};
    for (const auto& [id, position] : positions) {
      args.push_back(id);
      args.push_back(std::to_string(position));
    }
    return eval(scripts::apply_draw(), {sale_key(), queue_key(), changes_key(), outcomes_key()}, std::move(args));
  }
  Reply finish(const std::string& admitted) {
    return eval(scripts::finish_draw(), {sale_key(), entrants_key()}, {prefix_, "s", admitted, "3200"});
  }

  static std::string outcome(const Reply& r) { return r.elements.empty() ? "" : r.elements[0].str; }
  static Fields fields(const Reply& r, std::size_t from) {
    Fields f;
    for (std::size_t i = from; i + 1 < r.elements.size(); i += 2) f[r.elements[i].str] = r.elements[i + 1].str;
    return f;
  }
  std::string sale_field(const std::string& name) { return command({"HGET", sale_key(), name}).str; }
  std::string status(const std::string& id) { return command({"HGET", order_key(id), "status"}).str; }
  long long length(const std::string& stream) { return command({"XLEN", stream}).integer; }
  std::vector<std::string> queued_ids() {
    std::vector<std::string> ids;
    for (const auto& entry : command({"XRANGE", queue_key(), "-", "+"}).elements)
      ids.push_back(entry.elements.at(1).elements.at(1).str);
    return ids;
  }

  std::unique_ptr<RedisClient> client_;
  std::string prefix_;
};

// Appended part by part: GCC 12 warns falsely (-Wrestrict) on a chain of string + literal.
std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

const std::string seed_a(64, 'a');
const std::string seed_b(64, 'b');

TEST_F(RedisDrawScriptsTest, AnEntrantIsEnteredWithoutAUnitAndARepeatFindsItsOrder) {
  create_draw_sale(2);
  EXPECT_EQ(outcome(intake("early", "t-o0", "999")), "sale_not_open");
  auto r = intake("alice", "t-o1", "1000");
  ASSERT_EQ(outcome(r), "accepted") << describe(r);
  const auto f = fields(r, 1);
  EXPECT_EQ(f.at("status"), "ENTERED");
  EXPECT_EQ(f.at("seq"), "0");
  EXPECT_EQ(f.at("draw_at"), "3000");
  EXPECT_EQ(f.at("remaining"), "2");
  EXPECT_EQ(sale_field("remaining"), "2");
  EXPECT_EQ(sale_field("c:ENTERED"), "1");
  EXPECT_EQ(sale_field("seq"), "0");
  EXPECT_EQ(length(queue_key()), 0);  // no place in line before the draw
  EXPECT_EQ(length(changes_key()), 1);  // long polls and streams hear of it
  EXPECT_EQ(command({"SISMEMBER", entrants_key(), "t-o1"}).integer, 1);

  auto again = intake("alice", "t-o9", "2500");
  EXPECT_EQ(outcome(again), "existing");
  EXPECT_EQ(fields(again, 1).at("order_id"), "t-o1");
  EXPECT_EQ(command({"EXISTS", order_key("t-o9")}).integer, 0);
  // The quantity checks run against the whole stock.
  EXPECT_EQ(outcome(intake("bob", "t-o2", "1500", "2")), "invalid_request");  // max_per_buyer 1
}

TEST_F(RedisDrawScriptsTest, TheQuantityChecksCountTheEntriesOfABuyerAgainstTheWholeStock) {
  create_draw_sale(3, 3);
  ASSERT_EQ(outcome(intake("alice", "t-o1", "1000", "2", "r1")), "accepted");
  EXPECT_EQ(outcome(intake("alice", "t-o2", "1000", "2", "r2")), "buyer_limit_reached");
  EXPECT_EQ(sale_field("x:ENTERED"), "1");
  auto big = intake("bob", "t-o3", "1000", "3", "r1");
  EXPECT_EQ(outcome(big), "accepted");  // entrants hold nothing: 3 of 3 still asked for
  EXPECT_EQ(sale_field("remaining"), "3");
}

TEST_F(RedisDrawScriptsTest, TheSeedClosesTheEntrantSetAndTheFirstSeedStays) {
  create_draw_sale(1);
  ASSERT_EQ(outcome(intake("alice", "t-o1", "1000")), "accepted");
  EXPECT_EQ(outcome(seed(seed_a, "2999")), "early");
  EXPECT_EQ(command({"HEXISTS", sale_key(), "draw_seed"}).integer, 0);

  auto seeded = seed(seed_a, "3000");
  ASSERT_EQ(outcome(seeded), "seeded");
  EXPECT_EQ(seeded.elements.at(1).str, seed_a);
  EXPECT_EQ(seeded.elements.at(2).str, "3000");
  EXPECT_EQ(seeded.elements.at(3).str, "1");  // entrants when the set was closed
  EXPECT_EQ(seeded.elements.at(4).str, "1");  // the stock
  // A second drawer (or the same after a crash) gets the first seed back.
  auto again = seed(seed_b, "3050");
  EXPECT_EQ(again.elements.at(1).str, seed_a);
  EXPECT_EQ(again.elements.at(2).str, "3000");

  // An intake whose clock is behind still meets the closed set: it waits for the result; a repeat is answered.
  EXPECT_EQ(outcome(intake("bob", "t-o2", "2999")), "drawing");
  EXPECT_EQ(outcome(intake("alice", "t-o3", "2999")), "existing");
  EXPECT_EQ(command({"SCARD", entrants_key()}).integer, 1);
  // After the window nobody new enters, seeded or not.
  EXPECT_EQ(command({"EXISTS", order_key("t-o2")}).integer, 0);
}

TEST_F(RedisDrawScriptsTest, AfterTheWindowANewcomerWaitsForTheResult) {
  create_draw_sale(1);
  EXPECT_EQ(outcome(intake("late", "t-o1", "3000")), "drawing");
  EXPECT_EQ(length(changes_key()), 0);
}

TEST_F(RedisDrawScriptsTest, TheEntrantsAreReadWithTheirBuyerQuantityAndEntryTime) {
  create_draw_sale(5, 2);
  std::set<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    std::string id = "t-o", user = "u";
    id += std::to_string(i);
    user += std::to_string(i);
    ASSERT_EQ(outcome(intake(user, id, std::to_string(1000 + i), i % 2 ? "2" : "1")), "accepted");
    expected.insert(joined({id, user, i % 2 ? "2" : "1", std::to_string(1000 + i)}));
  }
  std::set<std::string> read;
  std::string cursor = "0";
  do {
    auto page = eval(scripts::read_entrants(), {sale_key(), entrants_key()}, {prefix_, "s", cursor, "4"});
    ASSERT_FALSE(page.elements.empty());
    cursor = page.elements[0].str;
    for (std::size_t i = 1; i + 3 < page.elements.size(); i += 4)
      read.insert(joined({page.elements[i].str, page.elements[i + 1].str, page.elements[i + 2].str,
                          page.elements[i + 3].str}));
  } while (cursor != "0");
  EXPECT_EQ(read, expected);
}

TEST_F(RedisDrawScriptsTest, AResultIsAppliedOnceTheDrawnQueuedInDrawOrderTheRestNotDrawn) {
  create_draw_sale(2);
  for (const auto* user : {"a", "b", "c", "d"}) ASSERT_EQ(outcome(intake(user, std::string("t-") + user, "1000")), "accepted");
  ASSERT_EQ(outcome(seed(seed_a, "3000")), "seeded");
  const auto feed = length(changes_key());

  // Drawn: c first, a second; b and d not drawn. Two batches, as the drawer sends them.
  EXPECT_EQ(apply({{"t-c", 1}, {"t-a", 2}}).integer, 2);
  EXPECT_EQ(outcome(finish("2")), "pending");  // b and d are still ENTERED
  EXPECT_EQ(apply({{"t-b", 0}, {"t-d", 0}}).integer, 2);
  EXPECT_EQ(status("t-c"), "QUEUED");
  EXPECT_EQ(command({"HGET", order_key("t-c"), "seq"}).str, "1");
  EXPECT_EQ(command({"HGET", order_key("t-a"), "seq"}).str, "2");
  EXPECT_EQ(command({"HGET", order_key("t-a"), "version"}).str, "2");
  EXPECT_EQ(status("t-b"), "NOT_DRAWN");
  EXPECT_EQ(queued_ids(), (std::vector<std::string>{"t-c", "t-a"}));
  EXPECT_EQ(sale_field("remaining"), "0");
  EXPECT_EQ(sale_field("c:ENTERED"), "0");
  EXPECT_EQ(sale_field("c:QUEUED"), "2");
  EXPECT_EQ(sale_field("c:NOT_DRAWN"), "2");
  EXPECT_EQ(length(changes_key()), feed + 4);  // every change told
  EXPECT_EQ(length(outcomes_key()), 2);        // NOT_DRAWN is final: on its way to the system of record
  EXPECT_EQ(command({"HEXISTS", users_key(), "b"}).integer, 0);  // the loser may come again first-come
  EXPECT_EQ(command({"HGET", users_key(), "a"}).str, "t-a");

  // A drawer that redoes the draw (a crash, a second worker) changes nothing.
  EXPECT_EQ(apply({{"t-c", 1}, {"t-a", 2}}).integer, 0);
  EXPECT_EQ(apply({{"t-b", 0}, {"t-d", 0}}).integer, 0);
  EXPECT_EQ(length(queue_key()), 2);
  EXPECT_EQ(length(changes_key()), feed + 4);
  EXPECT_EQ(length(outcomes_key()), 2);

  EXPECT_EQ(outcome(finish("2")), "drawn");
  EXPECT_EQ(sale_field("drawn"), "1");
  EXPECT_EQ(sale_field("seq"), "2");
  EXPECT_EQ(command({"EXISTS", entrants_key()}).integer, 0);
  EXPECT_EQ(outcome(seed(seed_b, "3300")), "drawn");
  EXPECT_EQ(outcome(finish("2")), "drawn");
}

TEST_F(RedisDrawScriptsTest, AfterTheDrawLatecomersAreFirstComeBehindTheDrawn) {
  create_draw_sale(3);
  ASSERT_EQ(outcome(intake("a", "t-a", "1000")), "accepted");
  ASSERT_EQ(outcome(intake("b", "t-b", "1000")), "accepted");
  ASSERT_EQ(outcome(seed(seed_a, "3000")), "seeded");
  ASSERT_EQ(apply({{"t-b", 1}, {"t-a", 2}}).integer, 2);
  ASSERT_EQ(outcome(finish("2")), "drawn");
  auto late = intake("z", "t-z", "4000");
  ASSERT_EQ(outcome(late), "accepted");
  EXPECT_EQ(fields(late, 1).at("status"), "QUEUED");
  EXPECT_EQ(fields(late, 1).at("seq"), "3");  // position 3, behind the two drawn
  EXPECT_EQ(outcome(intake("y", "t-y", "4000")), "sold_out");
  EXPECT_EQ(outcome(intake("a", "t-a2", "4000")), "existing");
  EXPECT_EQ(queued_ids(), (std::vector<std::string>{"t-b", "t-a", "t-z"}));
}

}  // namespace
