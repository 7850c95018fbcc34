// The store's reader-writer lock: readers share, a writer is alone, and a
// writer that waits goes before readers that come after it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "store/writer_first_mutex.hpp"

namespace {

using flashgate::store::WriterFirstMutex;
using namespace std::chrono_literals;

TEST(WriterFirstMutex, ReadersHoldItTogether) {
  WriterFirstMutex mutex;
  std::shared_lock first(mutex);
  EXPECT_TRUE(mutex.try_lock_shared());
  mutex.unlock_shared();
}

TEST(WriterFirstMutex, AWriterExcludesReadersAndWriters) {
  WriterFirstMutex mutex;
  {
    std::unique_lock writer(mutex);
    EXPECT_FALSE(mutex.try_lock_shared());
    EXPECT_FALSE(mutex.try_lock());
  }
  {
    std::shared_lock reader(mutex);
    EXPECT_FALSE(mutex.try_lock());
  }
  EXPECT_TRUE(mutex.try_lock());
  mutex.unlock();
}

TEST(WriterFirstMutex, AWaitingWriterGoesBeforeNewReaders) {
  WriterFirstMutex mutex;
  std::shared_lock reader(mutex);
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::unique_lock lock(mutex);
    written = true;
  });
  // Once the writer waits, a new reader is turned away (with std::shared_mutex
  // on glibc it would be let in for as long as readers kept coming).
  bool refused = false;
  for (int i = 0; i < 5000 && !refused; ++i) {
    if (mutex.try_lock_shared()) {
      mutex.unlock_shared();
      std::this_thread::sleep_for(1ms);
    } else {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(written);
  reader.unlock();
  writer.join();
  EXPECT_TRUE(written);
}

TEST(WriterFirstMutex, WaitsOnAConditionUnderTheWriterLock) {
  WriterFirstMutex mutex;
  std::condition_variable_any changed;
  bool ready = false;
  std::thread setter([&] {
    std::unique_lock lock(mutex);
    ready = true;
    changed.notify_all();
  });
  std::unique_lock lock(mutex);
  EXPECT_TRUE(changed.wait_for(lock, 10s, [&] { return ready; }));
  lock.unlock();
  setter.join();
}

}  // namespace
