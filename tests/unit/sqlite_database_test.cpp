// The embedded database's refusals: a removed file takes no writes.
#include <gtest/gtest.h>

#include <future>
#include <random>

#include "database/sqlite/sqlite_database.hpp"

namespace {

using flashgate::database::SqliteDatabase;

// Strings, not literals, are assigned below: GCC 12 warns falsely (-Wrestrict) on literals here.
const std::string sale_id = "s";

bool record(SqliteDatabase& db, const std::string& order_id) {
  flashgate::domain::Order order;
  order.order_id = order_id;
  order.sale_id = sale_id;
  order.user_id = order_id;
  order.seq = 1;
  std::promise<bool> durable;
  db.record_order(order, [&durable](bool ok) { durable.set_value(ok); });
  return durable.get_future().get();
}

class SqliteFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("flashgate-sqlite-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SqliteFile, ARemovedFileRefusesWritesUntilItIsBack) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  ASSERT_TRUE(record(db, "before"));
  std::filesystem::rename(path, dir_ / "moved.db");
  EXPECT_FALSE(record(db, "while-removed"));
  std::filesystem::rename(dir_ / "moved.db", path);
  EXPECT_TRUE(record(db, "after"));
  const auto state = db.load();
  std::vector<std::string> ids;
  for (const auto& order : state.orders) ids.push_back(order.order_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"before", "after"}));
}

TEST_F(SqliteFile, AReplacedFileRefusesWrites) {
  const auto path = dir_ / "flashgate.db";
  SqliteDatabase db(path);
  ASSERT_TRUE(record(db, "before"));
  std::filesystem::rename(path, dir_ / "old.db");
  { SqliteDatabase other(path); }  // someone else's file now at our path
  EXPECT_FALSE(record(db, "into-the-wrong-file"));
}

}  // namespace
