#pragma once
// Checkpoints of the write-ahead log on a thread and a connection of their
// own. SQLite's automatic checkpoint runs inside the COMMIT that crosses
// 1,000 WAL pages: the writer thread then copies pages into the database
// file and fsyncs it while every intake behind it waits (tens of
// milliseconds, the whole p99 of accepted intakes). A passive checkpoint
// here never blocks the writer; the writer only ever fsyncs the WAL.
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

struct sqlite3;

namespace flashgate::database {

class WalCheckpointer {
 public:
  // Takes over checkpointing from `writer` (its automatic checkpoint is turned off).
  WalCheckpointer(const std::filesystem::path& path, sqlite3* writer);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  static constexpr int frames_per_checkpoint = 1000;  // SQLite's own default
  static constexpr int frames_before_restart = 16 * frames_per_checkpoint;  // about 64 MB of log

 private:
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  void run();

  sqlite3* connection_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flashgate::database
