#include "worker/archive_rounds.hpp"

#include <algorithm>

#include "domain/time.hpp"

namespace flashgate::worker {

ArchiveRounds::ArchiveRounds(Archiver& archiver, std::int64_t archive_after_ms)
    : archiver_(archiver), interval_(interval(archive_after_ms)) {}

std::chrono::milliseconds ArchiveRounds::interval(std::int64_t archive_after_ms) {
  return std::chrono::milliseconds(std::clamp<std::int64_t>(archive_after_ms / 10, 100, 60'000));
}

void ArchiveRounds::start() {
  thread_.emplace("fg-archiver", interval_, [this] { archiver_.run_round(domain::now_ms()); });
}

void ArchiveRounds::stop() {
  if (thread_) thread_->stop();
}

}  // namespace flashgate::worker
