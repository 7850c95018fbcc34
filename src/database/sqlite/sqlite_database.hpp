#pragma once
// The embedded database: one SQLite file in WAL mode, written by one thread
// that commits many jobs per transaction (group commit). It is both the
// journal of the memory store and the system of record.
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "database/event_outbox.hpp"
#include "database/order_database.hpp"
#include "database/sqlite/wal_checkpointer.hpp"
#include "store/journal.hpp"

namespace flashgate::database {

struct SqliteFeatures {
  // The journal write of an outcome (CONFIRMED, FAILED, PAID, CANCELLED) also
  // queues it for the event sink, in the same transaction.
  bool event_outbox = false;
  // The file is both the memory store's journal and the system of record: the
  // journal's CONFIRMED creates the order row, and create_order has nothing to do.
  bool order_rows_from_journal = false;
};

class SqliteDatabase final : public OrderDatabase, public store::Journal, public EventOutbox {
 public:
  // Told of every committed transaction: how many jobs it held and how long it took.
  using CommitObserver = std::function<void(std::size_t jobs, double seconds)>;
  // The observer is given here, before the writer thread starts: the first
  // writes (a restart re-queueing the orders a crash left PROCESSING) come
  // before anyone else could set it.
  explicit SqliteDatabase(const std::filesystem::path& path, CommitObserver observer = {}, SqliteFeatures features = {});
  ~SqliteDatabase() override;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Journal
  void record_sale(const domain::Sale& sale, Done done) override;
  void record_order(domain::Order order, Done done) override;
  void record_draw_seed(const store::DrawRecord& draw, Done done) override;
  void record_draw_result(store::DrawResultRecord result, Done done) override;
  void barrier(Done done) override;
  store::JournalState load() override;

  // OrderDatabase
  bool create_order(const domain::Order& order) override;
  bool flush_stock(const std::vector<std::pair<std::string, std::int64_t>>& remaining) override;
  std::uint64_t count_orders() override;
  // The journal already carries these, in the same transaction (see the schema's trigger).
  bool record_sale(const domain::Sale&) override { return true; }
  bool record_outcome(const domain::Order&) override { return true; }
  bool archive_sale(const store::SaleView& final_numbers, domain::TimeMs at) override;
  bool mark_settled(const std::string& sale_id, std::optional<domain::TimeMs> since) override;
  std::optional<SaleRecord> find_sale(const std::string& sale_id) override;
  std::vector<SaleRecord> list_sales(const std::string& after_sale_id, std::size_t limit) override;
  std::vector<std::string> archived_sale_ids() override;
  std::optional<std::string> sale_of_order(const std::string& order_id) override;
  // On the writer thread (the connection is its alone); returns once done.
  void release_memory() override;
  // Bytes the connection's page cache holds now (SQLITE_DBSTATUS_CACHE_USED).
  std::int64_t page_cache_bytes();

  // EventOutbox: through the writer, like every other statement on this connection.
  std::optional<std::vector<OutboxEvent>> take(std::size_t limit) override;
  bool delivered(const std::vector<std::int64_t>& ids) override;
  std::optional<std::uint64_t> depth() override;

  // Stops the writer after committing what is queued.
  void close();

  std::uint64_t transactions_committed() const { return transactions_.load(); }
  std::uint64_t jobs_committed() const { return jobs_.load(); }
  std::uint64_t write_failures() const { return failures_.load(); }

 private:
  // A job binds and steps its statements; a non-OK code fails its whole batch.
  using Apply = std::function<int(SqliteDatabase&)>;
  struct Job {
    Apply apply;
    Done done;
  };

  void submit(Apply apply, Done done);
  bool submit_and_wait(Apply apply);
  void writer_loop();
  void run_batch(std::deque<Job>& batch);
  sqlite3_stmt* statement(int which);
  int insert_order_row(const domain::Order& order, domain::TimeMs at);  // on the writer thread
  int read_items(SaleRecord& record);  // the sale's items into record.items and record.sale.items (writer thread)

  // The file we opened is still the one at our path (not removed or replaced).
  bool file_in_place() const;

  std::filesystem::path path_;
  const CommitObserver commit_observer_;  // read by the writer thread only
  const SqliteFeatures features_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> pending_;
  bool closing_ = false;
  std::thread writer_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::atomic<std::uint64_t> transactions_{0}, jobs_{0}, failures_{0};
};

}  // namespace flashgate::database
