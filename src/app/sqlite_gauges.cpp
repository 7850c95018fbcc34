// The SQLite journal's gauges: its group commits.
#include "app/backend_gauges.hpp"

namespace flashgate::app {

database::SqliteDatabase::CommitObserver sqlite_commit_histograms(metrics::Registry& metrics) {
  auto& batch = metrics.histogram("flashgate_db_commit_jobs", "Writes per group-commit transaction", "",
                                  {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096});
  auto& commit = metrics.histogram("flashgate_db_commit_seconds", "Time of a group-commit transaction, fsync included",
                                   "", {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2});
  return [&batch, &commit](std::size_t jobs, double seconds) {
    batch.observe(static_cast<double>(jobs));
    commit.observe(seconds);
  };
}

void add_sqlite_gauges(database::SqliteDatabase& sqlite, metrics::Registry& metrics) {
  metrics.gauge("flashgate_db_transactions", "Group-commit transactions written",
                [&sqlite] { return static_cast<double>(sqlite.transactions_committed()); });
  metrics.gauge("flashgate_db_jobs", "Writes committed in group-commit transactions",
                [&sqlite] { return static_cast<double>(sqlite.jobs_committed()); });
  metrics.gauge("flashgate_db_write_failures", "Group-commit transactions that failed",
                [&sqlite] { return static_cast<double>(sqlite.write_failures()); });
}

}  // namespace flashgate::app
