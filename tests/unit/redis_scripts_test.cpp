// The store's Lua scripts on a real redis-server. Scripts that change an
// order answer with its fields and publish the same fields on the change
// feed; the intake builds both from what it writes rather than reading the
// hash back, so these tests hold the reply, the feed entry and the stored
// hashes to one another.
#include "store/redis/scripts.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "domain/queue_hint.hpp"
#include "redis_server_fixture.hpp"

namespace {

using namespace flashgate::testing;
namespace scripts = flashgate::store::redis::scripts;
using Fields = std::map<std::string, std::string>;
using flashgate::store::redis::describe;

class RedisScriptsTest : public RedisServerTest {
 protected:
  void SetUp() override {
    RedisServerTest::SetUp();
    client_ = std::make_unique<RedisClient>(options());
    ASSERT_TRUE(client_->wait_connected(patience));
    prefix_ = key("fg:{t}:");
  }

  std::string sale_key() const { return prefix_ + "sale:s"; }
  std::string users_key() const { return prefix_ + "users:s"; }
  std::string changes_key() const { return prefix_ + "changes"; }
  std::string outcomes_key() const { return prefix_ + "outcomes"; }
  // The keys of the scripts that end an order: finish, pay, cancel_unpaid.
  std::vector<std::string> final_keys(const std::string& order_id) const {
    return {order_key(order_id), changes_key(), prefix_ + "confirmed", outcomes_key()};
  }
  std::string order_key(const std::string& id) const { return prefix_ + "order:" + id; }

  Reply eval(const flashgate::store::redis::Script& script, std::vector<std::string> keys,
             std::vector<std::string> args) {
    Reply r = client_->eval_sync(script, std::move(keys), std::move(args));
    EXPECT_TRUE(r.ok()) << describe(r);
    return r;
  }

  void create_sale(int stock, const std::string& starts_at = "", const std::string& ends_at = "") {
    auto r = eval(scripts::create_sale(), {sale_key()}, {"s", "item", std::to_string(stock), starts_at, ends_at, "1000"});
    ASSERT_EQ(r.integer, 1);
  }

  Reply intake(const std::string& user, const std::string& order_id, const std::string& now = "5000") {
    return eval(scripts::intake(), {sale_key(), users_key(), prefix_ + "queue", changes_key(), prefix_ + "held:s",
                                    prefix_ + "order:" + order_id},
                {prefix_, "s", user, order_id, now});
  }

  static std::string outcome(const Reply& r) { return r.elements.empty() ? "" : r.elements[0].str; }

  // Every element a string: a Lua number would come back as an integer reply.
  static std::vector<std::string> strings(const std::vector<Reply>& items, std::size_t from) {
    std::vector<std::string> out;
    for (std::size_t i = from; i < items.size(); ++i) {
      EXPECT_EQ(items[i].type, Reply::Type::string) << "element " << i;
      out.push_back(items[i].str);
    }
    return out;
  }

  static Fields as_fields(const std::vector<std::string>& flat) {
    Fields f;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) EXPECT_TRUE(f.emplace(flat[i], flat[i + 1]).second) << flat[i];
    return f;
  }

  // What the scripts say of an order: its hash and the sale's progress.
  Fields stored(const std::string& order_id) {
    Fields f = as_fields(strings(client_->command_sync({"HGETALL", order_key(order_id)}).elements, 0));
    auto sale = client_->command_sync({"HMGET", sale_key(), "started", "rate", "rate_at", "rate_since", "remaining"});
    const char* names[] = {"started", "rate", "rate_at", "rate_since", "remaining"};
    for (std::size_t i = 0; i < 5; ++i) f[names[i]] = sale.elements.at(i).str;
    return f;
  }

  std::vector<std::string> newest_change() {
    auto r = client_->command_sync({"XREVRANGE", changes_key(), "+", "-", "COUNT", "1"});
    if (r.elements.empty()) return {};
    return strings(r.elements.at(0).elements.at(1).elements, 0);
  }

  std::size_t changes() { return static_cast<std::size_t>(client_->command_sync({"XLEN", changes_key()}).integer); }
  // The outcome stream's entries, oldest first, as field maps.
  std::vector<Fields> outcomes() {
    std::vector<Fields> out;
    for (const auto& entry : client_->command_sync({"XRANGE", outcomes_key(), "-", "+"}).elements)
      out.push_back(as_fields(strings(entry.elements.at(1).elements, 0)));
    return out;
  }
  std::string queue_key() const { return prefix_ + "queue"; }
  // The next queue entry, read by window `consumer` of the group "windows": its id.
  std::string read_entry(const std::string& consumer) {
    client_->command_sync({"XGROUP", "CREATE", queue_key(), "windows", "0", "MKSTREAM"});  // (BUSYGROUP after the first)
    auto r = client_->command_sync({"XREADGROUP", "GROUP", "windows", consumer, "COUNT", "1", "STREAMS", queue_key(), ">"});
    EXPECT_TRUE(r.ok()) << describe(r);
    if (r.elements.empty()) return "";
    return r.elements.at(0).elements.at(1).elements.at(0).elements.at(0).str;
  }
  Reply claim(const std::string& order_id, const std::string& consumer, const std::string& entry_id,
              const std::string& now = "6000") {
    return eval(scripts::claim(), {order_key(order_id), changes_key(), queue_key()},
                {prefix_, now, "windows", consumer, entry_id});
  }
  // The consumer the entry is pending under ("" if none) and its idle time.
  std::pair<std::string, long long> pending(const std::string& entry_id) {
    auto r = client_->command_sync({"XPENDING", queue_key(), "windows", entry_id, entry_id, "1"});
    if (r.elements.empty()) return {"", 0};
    return {r.elements.at(0).elements.at(1).str, r.elements.at(0).elements.at(2).integer};
  }
  // An order taken by a window: accepted, then claimed.
  void claimed(const std::string& user, const std::string& order_id) {
    ASSERT_EQ(outcome(intake(user, order_id)), "accepted");
    ASSERT_EQ(outcome(claim(order_id, "w1", read_entry("w1"))), "claimed");
  }

  // The reply (after its outcome) is the feed's newest entry, field for field, and what is stored.
  void expect_reply_published_and_stored(const Reply& reply, const std::string& order_id) {
    const auto fields = strings(reply.elements, 1);
    EXPECT_EQ(fields, newest_change());
    EXPECT_EQ(as_fields(fields), stored(order_id));
  }

  std::unique_ptr<RedisClient> client_;
  std::string prefix_;
};

TEST_F(RedisScriptsTest, AnAcceptedIntakeAnswersPublishesAndStoresTheSameOrder) {
  create_sale(10);
  auto r = intake("alice", "o1");
  ASSERT_EQ(outcome(r), "accepted");
  expect_reply_published_and_stored(r, "o1");
  const auto f = as_fields(strings(r.elements, 1));
  EXPECT_EQ(f.at("order_id"), "o1");
  EXPECT_EQ(f.at("user_id"), "alice");
  EXPECT_EQ(f.at("sale_id"), "s");
  EXPECT_EQ(f.at("seq"), "1");
  EXPECT_EQ(f.at("status"), "QUEUED");
  EXPECT_EQ(f.at("version"), "1");
  EXPECT_EQ(f.at("created_at"), "5000");
  EXPECT_EQ(f.at("updated_at"), "5000");
  EXPECT_EQ(f.at("remaining"), "9");
  EXPECT_EQ(f.at("rate_since"), "0");  // no window started an order yet
  EXPECT_EQ(f.size(), 15u);
  EXPECT_EQ(client_->command_sync({"HGET", users_key(), "alice"}).str, "o1");
  EXPECT_EQ(client_->command_sync({"HGET", sale_key(), "c:QUEUED"}).str, "1");
  EXPECT_EQ(client_->command_sync({"XLEN", prefix_ + "queue"}).integer, 1);

  auto second = intake("bob", "o2");
  ASSERT_EQ(outcome(second), "accepted");
  expect_reply_published_and_stored(second, "o2");
  EXPECT_EQ(as_fields(strings(second.elements, 1)).at("seq"), "2");
  EXPECT_EQ(as_fields(strings(second.elements, 1)).at("remaining"), "8");
}

TEST_F(RedisScriptsTest, ARepeatedUserGetsTheOrderItHoldsAndNothingChanges) {
  create_sale(10);
  ASSERT_EQ(outcome(intake("alice", "o1")), "accepted");
  const auto feed = changes();
  auto again = intake("alice", "o2");
  ASSERT_EQ(outcome(again), "existing");
  EXPECT_EQ(as_fields(strings(again.elements, 1)), stored("o1"));
  EXPECT_EQ(changes(), feed);
  EXPECT_EQ(client_->command_sync({"EXISTS", order_key("o2")}).integer, 0);
  EXPECT_EQ(client_->command_sync({"HGET", sale_key(), "remaining"}).str, "9");
}

TEST_F(RedisScriptsTest, RefusalsChangeNothing) {
  create_sale(1, "2000", "9000");
  EXPECT_EQ(outcome(intake("early", "o0", "1999")), "sale_not_open");
  EXPECT_EQ(outcome(intake("late", "o0", "9000")), "sale_ended");
  EXPECT_EQ(outcome(eval(scripts::intake(), {prefix_ + "sale:none", prefix_ + "users:none", prefix_ + "queue", changes_key()},
                         {prefix_, "none", "u", "o0", "5000"})),
            "sale_not_found");
  EXPECT_EQ(changes(), 0u);
  ASSERT_EQ(outcome(intake("alice", "o1")), "accepted");
  EXPECT_EQ(outcome(intake("bob", "o2")), "sold_out");
  EXPECT_EQ(client_->command_sync({"HGET", sale_key(), "remaining"}).str, "0");
  EXPECT_EQ(client_->command_sync({"HGET", sale_key(), "seq"}).str, "1");
  EXPECT_EQ(client_->command_sync({"HEXISTS", users_key(), "bob"}).integer, 0);
  EXPECT_EQ(changes(), 1u);
}

TEST_F(RedisScriptsTest, EveryStepOfTheLifeCycleAnswersWhatItPublishesAndStores) {
  create_sale(10);
  ASSERT_EQ(outcome(intake("alice", "o1")), "accepted");
  auto claimed = claim("o1", "w1", read_entry("w1"));
  ASSERT_EQ(outcome(claimed), "claimed");
  expect_reply_published_and_stored(claimed, "o1");
  EXPECT_EQ(as_fields(strings(claimed.elements, 1)).at("status"), "PROCESSING");
  EXPECT_EQ(as_fields(strings(claimed.elements, 1)).at("started"), "1");

  auto done = eval(scripts::finish(), final_keys("o1"), {prefix_, "CONFIRMED", "", "7000"});
  ASSERT_EQ(outcome(done), "done");
  expect_reply_published_and_stored(done, "o1");
  EXPECT_EQ(as_fields(strings(done.elements, 1)).at("status"), "CONFIRMED");

  auto paid = eval(scripts::pay(), final_keys("o1"), {prefix_, "pay-1", "8000"});
  ASSERT_EQ(outcome(paid), "ok");
  expect_reply_published_and_stored(paid, "o1");
  const auto f = as_fields(strings(paid.elements, 1));
  EXPECT_EQ(f.at("status"), "PAID");
  EXPECT_EQ(f.at("payment_id"), "pay-1");
  EXPECT_EQ(f.at("version"), "4");
  EXPECT_EQ(changes(), 4u);

  // The same notification again: the same answer, nothing published.
  auto repeated = eval(scripts::pay(), final_keys("o1"), {prefix_, "pay-1", "9000"});
  ASSERT_EQ(outcome(repeated), "ok");
  EXPECT_EQ(as_fields(strings(repeated.elements, 1)), f);
  EXPECT_EQ(changes(), 4u);
}

// Every gateway computes the estimate from what the claim script keeps in
// the sale hash: it must be the memory store's RateMeter, start-up
// correction and idle restart included.
TEST_F(RedisScriptsTest, TheClaimScriptKeepsTheStartRateAsTheRateMeterDoes) {
  create_sale(20);
  flashgate::domain::RateMeter meter;
  // A run of starts, an idle spell longer than the restart (3 tau), a new run.
  const std::vector<flashgate::domain::TimeMs> starts{6000, 6000, 6100, 6400, 7000, 40'000, 40'050, 40'200};
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::string id = std::string("o").append(std::to_string(i));
    ASSERT_EQ(outcome(intake(std::string("u").append(std::to_string(i)), id)), "accepted");
    ASSERT_EQ(outcome(claim(id, "w1", read_entry("w1"), std::to_string(starts[i]))), "claimed");
    meter.record(starts[i]);
    const auto f = stored(id);
    EXPECT_EQ(f.at("rate_since"), i < 5 ? "6000" : "40000") << "start " << i;
    for (flashgate::domain::TimeMs later : {0, 1, 300, 5'000})
      EXPECT_NEAR(flashgate::domain::measured_rate(std::stod(f.at("rate")), std::stoll(f.at("rate_at")),
                                                   std::stoll(f.at("rate_since")), starts[i] + later),
                  meter.per_second(starts[i] + later), 1e-9)
          << "start " << i << ", " << later << " ms later";
  }
}

// The system of record learns final outcomes from the outcome stream: one
// entry per order that ended, with the order's fields as they ended.
TEST_F(RedisScriptsTest, EveryFinalOutcomeIsLoggedOnceForTheSystemOfRecord) {
  create_sale(10);
  claimed("alice", "o1");
  ASSERT_EQ(outcome(eval(scripts::finish(), final_keys("o1"), {prefix_, "CONFIRMED", "", "7000"})), "done");
  EXPECT_TRUE(outcomes().empty()) << "CONFIRMED is not final: its order row is written by the window itself";
  ASSERT_EQ(outcome(eval(scripts::pay(), final_keys("o1"), {prefix_, "pay-1", "8000"})), "ok");
  ASSERT_EQ(outcome(eval(scripts::pay(), final_keys("o1"), {prefix_, "pay-1", "9000"})), "ok");  // repeated

  claimed("bob", "o2");
  ASSERT_EQ(outcome(eval(scripts::finish(), final_keys("o2"), {prefix_, "FAILED", "no luck", "7000"})), "done");

  claimed("carol", "o3");
  ASSERT_EQ(outcome(eval(scripts::finish(), final_keys("o3"), {prefix_, "CONFIRMED", "", "7000"})), "done");
  ASSERT_EQ(outcome(eval(scripts::cancel_unpaid(), final_keys("o3"), {prefix_, "9500", "9000"})), "cancelled");
  // Paying it now is refused, and logs nothing.
  ASSERT_EQ(outcome(eval(scripts::pay(), final_keys("o3"), {prefix_, "pay-3", "9600"})), "order_not_payable");

  const auto logged = outcomes();
  ASSERT_EQ(logged.size(), 3u);
  EXPECT_EQ(logged[0].at("order_id"), "o1");
  EXPECT_EQ(logged[0].at("status"), "PAID");
  EXPECT_EQ(logged[0].at("payment_id"), "pay-1");
  EXPECT_EQ(logged[0].at("updated_at"), "8000");
  EXPECT_EQ(logged[1].at("order_id"), "o2");
  EXPECT_EQ(logged[1].at("status"), "FAILED");
  EXPECT_EQ(logged[1].at("reason"), "no luck");
  EXPECT_EQ(logged[2].at("order_id"), "o3");
  EXPECT_EQ(logged[2].at("status"), "CANCELLED");
  EXPECT_EQ(logged[2].at("reason"), "payment_timeout");
  for (const auto& entry : logged) {
    // Field for field the order's hash as it ended.
    EXPECT_EQ(entry, as_fields(strings(client_->command_sync({"HGETALL", order_key(entry.at("order_id"))}).elements, 0)));
  }
}

TEST_F(RedisScriptsTest, ADroppedQueueEntryIsAcknowledgedAndGone) {
  const std::string queue = prefix_ + "queue";
  ASSERT_TRUE(client_->command_sync({"XGROUP", "CREATE", queue, "windows", "0", "MKSTREAM"}).ok());
  const std::string first = client_->command_sync({"XADD", queue, "*", "order_id", "o1"}).str;
  client_->command_sync({"XADD", queue, "*", "order_id", "o2"});
  auto read = client_->command_sync({"XREADGROUP", "GROUP", "windows", "w1", "COUNT", "2", "STREAMS", queue, ">"});
  ASSERT_TRUE(read.ok()) << describe(read);
  EXPECT_EQ(eval(scripts::drop_entry(), {queue}, {"windows", first}).integer, 1);
  EXPECT_EQ(client_->command_sync({"XLEN", queue}).integer, 1);
  auto pending = client_->command_sync({"XPENDING", queue, "windows"});
  EXPECT_EQ(pending.elements.at(0).integer, 1);  // o2 is still the window's
  EXPECT_EQ(eval(scripts::drop_entry(), {queue}, {"windows", first}).integer, 0);  // a second time: nothing
}

// A window claims only through an entry pending under its own name: one
// taken back by another worker (or already dropped) is stale, and a claim
// through it changes nothing.
TEST_F(RedisScriptsTest, AClaimThroughAnEntryTheWindowNoLongerOwnsIsStaleAndChangesNothing) {
  create_sale(10);
  ASSERT_EQ(outcome(intake("alice", "o1")), "accepted");
  const auto entry = read_entry("w1");
  ASSERT_FALSE(entry.empty());
  // Taken back: another consumer owns it now.
  ASSERT_TRUE(client_->command_sync({"XCLAIM", queue_key(), "windows", "reclaimer", "0", entry, "JUSTID"}).ok());
  const auto before = stored("o1");
  const auto feed = changes();
  EXPECT_EQ(outcome(claim("o1", "w1", entry)), "stale");
  EXPECT_EQ(stored("o1"), before);
  EXPECT_EQ(changes(), feed);
  EXPECT_EQ(pending(entry).first, "reclaimer");
  // Dropped: nobody owns it.
  EXPECT_EQ(eval(scripts::drop_entry(), {queue_key()}, {"windows", entry}).integer, 1);
  EXPECT_EQ(outcome(claim("o1", "reclaimer", entry)), "stale");
  EXPECT_EQ(stored("o1"), before);
}

TEST_F(RedisScriptsTest, AClaimRenewsItsEntryAndAnOrderNotQueuedIsASkip) {
  create_sale(10);
  ASSERT_EQ(outcome(intake("alice", "o1")), "accepted");
  const auto entry = read_entry("w1");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(pending(entry).second, 50);
  ASSERT_EQ(outcome(claim("o1", "w1", entry)), "claimed");
  const auto [owner, idle] = pending(entry);
  EXPECT_EQ(owner, "w1");
  EXPECT_LT(idle, 50);
  EXPECT_EQ(outcome(claim("o1", "w1", entry)), "skip") << "PROCESSING already";
}

// The heartbeat renews only the entries still pending under the consumer
// named with them, so it never takes back what another worker reclaimed.
TEST_F(RedisScriptsTest, KeepingEntriesRenewsOnlyThoseStillPendingUnderTheirWindow) {
  create_sale(10);
  for (const auto* user : {"alice", "bob", "carol"}) ASSERT_EQ(outcome(intake(user, std::string("o-") + user)), "accepted");
  const auto mine = read_entry("w1"), reclaimed = read_entry("w1"), dropped = read_entry("w1");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(client_->command_sync({"XCLAIM", queue_key(), "windows", "reclaimer", "0", reclaimed, "JUSTID"}).ok());
  ASSERT_EQ(eval(scripts::drop_entry(), {queue_key()}, {"windows", dropped}).integer, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  auto kept = eval(scripts::keep_entries(), {queue_key()},
                   {"windows", "w1", mine, "w1", reclaimed, "w1", dropped});
  EXPECT_EQ(kept.integer, 1);
  EXPECT_EQ(pending(mine).first, "w1");
  EXPECT_LT(pending(mine).second, 50);
  EXPECT_EQ(pending(reclaimed).first, "reclaimer");
  EXPECT_GE(pending(reclaimed).second, 50);
  EXPECT_EQ(pending(dropped).first, "");
}

}  // namespace
