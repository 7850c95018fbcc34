#pragma once
// The archiver's periodic round (worker/archiver) on a thread of its own
// (fg-archiver): the worker's side of archiving; the admin call archives at
// once through Archiver::archive_now.
#include <chrono>
#include <cstdint>
#include <optional>

#include "worker/archiver.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class ArchiveRounds {
 public:
  ArchiveRounds(Archiver& archiver, std::int64_t archive_after_ms);
  ArchiveRounds(const ArchiveRounds&) = delete;
  ArchiveRounds& operator=(const ArchiveRounds&) = delete;

  // A tenth of the retention, within 100 ms .. 1 min: a sale leaves within
  // a tenth of its retention after it is due.
  static std::chrono::milliseconds interval(std::int64_t archive_after_ms);

  void start();
  void stop();

 private:
  Archiver& archiver_;
  const std::chrono::milliseconds interval_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
