#include "gateway/sale_archive.hpp"

#include <mutex>

#include "platform/thread_name.hpp"

namespace flashgate::gateway {

SaleArchive::SaleArchive(database::OrderDatabase* database, ArchiveNow archive_now)
    : database_(database), archive_now_(std::move(archive_now)) {
  thread_ = std::thread([this] {
    platform::name_this_thread("fg-sale-archive");
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock lock(work_mutex_);
        work_wake_.wait(lock, [this] { return stopping_ || !work_.empty(); });
        if (work_.empty()) return;
        work = std::move(work_.front());
        work_.pop_front();
      }
      work();
    }
  });
}

SaleArchive::~SaleArchive() { stop(); }

void SaleArchive::stop() {
  {
    std::lock_guard lock(work_mutex_);
    stopping_ = true;
  }
  work_wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SaleArchive::load() {
  if (!database_) return;
  auto ids = database_->archived_sale_ids();
  std::unique_lock lock(ids_mutex_);
  ids_.insert(ids.begin(), ids.end());
}

void SaleArchive::add(const std::string& sale_id) {
  std::unique_lock lock(ids_mutex_);
  ids_.insert(sale_id);
}

bool SaleArchive::is_archived(const std::string& sale_id) const {
  std::shared_lock lock(ids_mutex_);
  return ids_.contains(sale_id);
}

bool SaleArchive::run(std::function<void()> work) {
  {
    std::lock_guard lock(work_mutex_);
    if (stopping_ || work_.size() >= max_queued) return false;
    work_.push_back(std::move(work));
  }
  work_wake_.notify_one();
  return true;
}

}  // namespace flashgate::gateway
