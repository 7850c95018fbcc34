#pragma once
// The locks the processes of one deployment take turns with, where several
// share a store (Redis): one worker delivers events and runs the archive
// rounds at a time, and one process archives at a time. PostgreSQL's
// advisory locks; a process that dies lets go of its locks with its
// connections.
#include <chrono>

namespace flashgate::database {

class DeploymentLocks {
 public:
  virtual ~DeploymentLocks() = default;
  // True while this process holds the event delivery lock; asked before each round.
  virtual bool hold_delivery_lock() = 0;
  // The same for the archiver's periodic round.
  virtual bool hold_archive_lock() = 0;
  // The archive lock proper, around each archive by whichever process
  // archives; true once taken within `wait`. Not reentrant.
  virtual bool lock_archive(std::chrono::milliseconds wait) = 0;
  virtual void unlock_archive() = 0;
};

}  // namespace flashgate::database
