#pragma once
// A reader-writer lock that lets a waiting writer in before new readers.
// std::shared_mutex on glibc prefers readers: two I/O threads polling
// without pause can keep a writer (a window finishing an order, the commit
// that completes a batch of intakes) waiting as long as their shared
// sections overlap, and every order's progress waits with it. Here a writer
// that asks is next; readers that come after it wait for it.
#include <pthread.h>

#include <system_error>

namespace flashgate::store {

class WriterFirstMutex {
 public:
  WriterFirstMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    const int error = pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (error != 0) throw std::system_error(error, std::generic_category(), "pthread_rwlock_init");
  }
  ~WriterFirstMutex() { pthread_rwlock_destroy(&lock_); }
  WriterFirstMutex(const WriterFirstMutex&) = delete;
  WriterFirstMutex& operator=(const WriterFirstMutex&) = delete;

  // Lockable and SharedLockable, for std::unique_lock, std::shared_lock and
  // std::condition_variable_any.
  void lock() { pthread_rwlock_wrlock(&lock_); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace flashgate::store
