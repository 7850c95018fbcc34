#include "store/redis/consumer_groups.hpp"

#include <algorithm>
#include <thread>

#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"

namespace flashgate::store::redis {

ConsumerGroups::ConsumerGroups(RedisLink& client, std::chrono::milliseconds reclaim_after)
    : client_(client), reclaim_after_(reclaim_after) {}

std::vector<std::string> ConsumerGroups::tags() {
  const auto now = std::chrono::steady_clock::now();
  bool refresh;
  {
    std::lock_guard lock(mutex_);
    refresh = !tags_read_ || now - tags_checked_ > limits::tags_refresh_period;
    if (refresh) tags_checked_ = now;
  }
  if (refresh) {
    auto reply = client_.command_sync({"SMEMBERS", keys::tags});
    // A tag whose sales were all archived is gone from fg:tags: this process
    // stops reading its streams (and making their groups) too.
    if (reply.ok()) {
      std::set<std::string> known;
      for (const auto& tag : reply.elements) known.insert(tag.str);
      std::lock_guard lock(mutex_);
      tags_ = std::move(known);
      tags_read_ = true;
      std::erase_if(grouped_, [this](const std::string& tag) { return !tags_.contains(tag); });
    }
  }
  std::lock_guard lock(mutex_);
  return {tags_.begin(), tags_.end()};
}

bool ConsumerGroups::ensure(const std::string& tag) {
  {
    std::lock_guard lock(mutex_);
    if (grouped_.contains(tag)) return true;
  }
  // From "0": an outcome logged before its group existed is read all the same.
  const auto reply = client_.eval_sync(scripts::ensure_groups(), {keys::queue(tag), keys::outcomes(tag)},
                                       {keys::windows_group, keys::mirror_group});
  const bool made = reply.type == Reply::Type::integer && reply.integer == 1;
  if (made) {
    std::lock_guard lock(mutex_);
    grouped_.insert(tag);
  }
  return made;
}

void ConsumerGroups::forget_all() {
  std::lock_guard lock(mutex_);
  grouped_.clear();
}

Reply ConsumerGroups::read_new(BlockingLink& connection, StreamReads& reads, const char* group,
                               const std::string& consumer, std::size_t count, std::chrono::milliseconds wait,
                               const std::vector<std::string>& streams) {
  const std::vector<std::string> head{"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(count)};
  std::vector<std::pair<std::string, std::string>> positions;
  positions.reserve(streams.size());
  for (const auto& stream : streams) positions.emplace_back(stream, ">");
  auto read = reads.read(connection, head, wait, limits::group_read_grace, positions);
  if (read.first_error.type == Reply::Type::nil) return std::move(read.streams);
  if (read.first_error.str.rfind("NOGROUP", 0) == 0) forget_all();
  // What other slots gave is this consumer's now (pending under its name): kept.
  if (!read.streams.elements.empty()) return std::move(read.streams);
  if (!stopping_) std::this_thread::sleep_for(limits::group_read_retry_pause);
  return {};
}

Reply ConsumerGroups::claim_idle(const std::string& stream, const char* group, const std::string& consumer) {
  auto reply = client_.command_sync({"XAUTOCLAIM", stream, group, consumer, std::to_string(reclaim_after_.count()),
                                     "0-0", "COUNT", std::to_string(limits::idle_claim_count)});
  if (!reply.ok() || reply.elements.size() < 2) return {};
  return std::move(reply.elements[1]);
}

std::chrono::milliseconds ConsumerGroups::reclaim_period() const {
  return std::clamp(reclaim_after_ / 4, limits::reclaim_period_min, limits::reclaim_period_max);
}

}  // namespace flashgate::store::redis
