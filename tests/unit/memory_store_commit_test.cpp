// The memory store finishes the intakes of one journal commit together, at
// the commit's end (Journal::on_commit_end): answers wait for the commit,
// a failed commit undoes every intake in it, and a user who asks again
// while the first intake is committing gets that order once it is durable.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "domain/time.hpp"
#include "store/memory/memory_store.hpp"

namespace {

using flashgate::domain::ErrorCode;
using flashgate::domain::Order;
using flashgate::domain::Result;
using flashgate::domain::Sale;
using flashgate::store::IntakeOutcome;
using flashgate::store::JournalState;
using flashgate::store::MemoryStore;
using flashgate::store::SaleView;

// Holds what is recorded until the test commits it, as the SQLite writer
// holds a batch until its transaction ends.
class ManualJournal final : public flashgate::store::Journal {
 public:
  void record_sale(const Sale&, Done done) override { pending_.push_back(std::move(done)); }
  void record_order(Order, Done done) override { pending_.push_back(std::move(done)); }
  void barrier(Done done) override { pending_.push_back(std::move(done)); }
  JournalState load() override { return {}; }

  std::size_t pending() const { return pending_.size(); }
  void commit(bool durable) {
    auto batch = std::move(pending_);
    pending_.clear();
    for (auto& done : batch)
      if (done) done(durable);
    commit_ended();
  }

 private:
  std::vector<Done> pending_;
};

class MemoryStoreCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<Result<SaleView>> created;
    store_.create_sale(Sale{"s1", "Item", 3, std::nullopt, std::nullopt, flashgate::domain::now_ms()},
                       [&](Result<SaleView> r) { created = std::move(r); });
    journal_.commit(true);
    ASSERT_TRUE(created && *created);
  }

  // An intake whose answer lands in the returned slot whenever it comes.
  std::shared_ptr<std::optional<Result<IntakeOutcome>>> intake(const std::string& user) {
    auto slot = std::make_shared<std::optional<Result<IntakeOutcome>>>();
    store_.intake("s1", user, [slot](Result<IntakeOutcome> r) { *slot = std::move(r); });
    return slot;
  }

  std::int64_t remaining() {
    std::optional<Result<SaleView>> view;
    store_.get_sale("s1", [&](Result<SaleView> r) { view = std::move(r); });
    return view && *view ? (*view)->remaining : -1;
  }

  ManualJournal journal_;
  MemoryStore store_{journal_};
};

TEST_F(MemoryStoreCommitTest, IntakesOfOneCommitAreAnsweredWhenItEnds) {
  auto a = intake("u1");
  auto b = intake("u2");
  EXPECT_FALSE(*a) << "no answer before the commit";
  EXPECT_FALSE(*b);
  EXPECT_EQ(store_.queue_depth(), 0u) << "nothing reaches the windows before it is durable";

  journal_.commit(true);
  ASSERT_TRUE(*a && **a);
  ASSERT_TRUE(*b && **b);
  EXPECT_TRUE((**a)->created);
  EXPECT_TRUE((**b)->created);
  EXPECT_EQ((**a)->view.position, 1u);
  EXPECT_EQ((**b)->view.position, 2u);
  EXPECT_EQ(store_.queue_depth(), 2u);
  EXPECT_EQ(remaining(), 1);
}

TEST_F(MemoryStoreCommitTest, AFailedCommitUndoesEveryIntakeInIt) {
  auto a = intake("u1");
  auto b = intake("u2");
  journal_.commit(false);
  ASSERT_TRUE(*a && *b);
  ASSERT_FALSE(**a);
  ASSERT_FALSE(**b);
  EXPECT_EQ((**a).error().code, ErrorCode::unavailable);
  EXPECT_EQ((**b).error().code, ErrorCode::unavailable);
  EXPECT_EQ(remaining(), 3);
  EXPECT_EQ(store_.queue_depth(), 0u);

  auto again = intake("u1");
  journal_.commit(true);
  ASSERT_TRUE(*again && **again);
  EXPECT_TRUE((**again)->created) << "the user holds nothing after the failed commit";
  EXPECT_EQ((**again)->view.position, 1u) << "failed intakes hold no place in line";
}

TEST_F(MemoryStoreCommitTest, AUserAskingAgainDuringTheCommitGetsTheSameOrderWhenItEnds) {
  auto first = intake("u1");
  auto second = intake("u1");
  EXPECT_FALSE(*second) << "the first intake is not durable yet";
  journal_.commit(true);
  ASSERT_TRUE(*first && **first);
  ASSERT_TRUE(*second && **second) << "answered at the end of the same commit, not one later";
  EXPECT_TRUE((**first)->created);
  EXPECT_FALSE((**second)->created);
  EXPECT_EQ((**second)->view.order.order_id, (**first)->view.order.order_id);
  EXPECT_EQ(journal_.pending(), 0u);
  EXPECT_EQ(remaining(), 2);
}

}  // namespace
