#include "database/sqlite/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <stdexcept>
#include <string>

#include "platform/thread_name.hpp"

namespace flashgate::database {

WalCheckpointer::WalCheckpointer(const std::filesystem::path& path, sqlite3* writer) {
  if (sqlite3_open_v2(path.c_str(), &connection_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = connection_ ? sqlite3_errmsg(connection_) : "out of memory";
    sqlite3_close(connection_);
    throw std::runtime_error("cannot open " + path.string() + " for checkpoints: " + message);
  }
  // A connection finds the log when it first reads the file: until then it checkpoints nothing.
  if (sqlite3_exec(connection_, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(connection_);
    sqlite3_close(connection_);
    throw std::runtime_error("cannot read " + path.string() + " for checkpoints: " + message);
  }
  sqlite3_busy_timeout(connection_, 2000);  // a restarting checkpoint waits this long for the writer
  sqlite3_exec(connection_, "PRAGMA journal_size_limit = 67108864", nullptr, nullptr, nullptr);
  sqlite3_wal_hook(writer, &WalCheckpointer::on_commit, this);  // replaces the automatic checkpoint
  thread_ = std::thread([this] {
    platform::name_this_thread("fg-sqlite-ckpt");
    run();
  });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  sqlite3_close(connection_);
}

// On the writer thread, after each commit: only a signal.
int WalCheckpointer::on_commit(void* self, sqlite3*, const char*, int frames) {
  if (frames < frames_per_checkpoint) return SQLITE_OK;
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->wanted_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return wanted_ || stopping_; });
      if (stopping_) return;
      wanted_ = false;
    }
    int log_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(connection_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    // Under steady writes a passive checkpoint never quite catches up, and the
    // log only starts over once one has: past a bound, the writer is held
    // for the rest of the copy (short: the passive ones did most of it).
    if (rc == SQLITE_OK && log_frames >= frames_before_restart)
      rc = sqlite3_wal_checkpoint_v2(connection_, nullptr, SQLITE_CHECKPOINT_RESTART, &log_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      spdlog::warn("WAL checkpoint failed ({}); the log keeps growing until one succeeds", sqlite3_errstr(rc));
  }
}

}  // namespace flashgate::database
