#pragma once
// The tags this process knows (fg:tags) and the consumer groups on their
// streams: the windows' on each queue, the outcome log's on each outcome
// stream. Shared by the queue consumer, the outcome log and the change feed;
// any thread may call it.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/redis/redis_link.hpp"
#include "store/redis/stream_reads.hpp"

namespace flashgate::store::redis {

class ConsumerGroups {
 public:
  // reclaim_after: how long an entry stays pending before it counts as abandoned.
  ConsumerGroups(RedisLink& client, std::chrono::milliseconds reclaim_after);

  // The known tags, read again from fg:tags at most every tags_refresh_period.
  // Until a read has succeeded every call reads: the empty set from before is
  // no answer, and a caller that took it while another's first read was under
  // way (the change feed) took every existing tag for one made later.
  std::vector<std::string> tags();
  // Whether fg:tags has been read: what tags() answered came from Redis.
  bool tags_read() const { return tags_read_; }
  // Makes the tag's groups if this process has not yet; false if not made
  // (Redis unreachable, or the tag archived meanwhile).
  bool ensure(const std::string& tag);
  // The server lost its groups (a restart without them): they are made again.
  void forget_all();

  // XREADGROUP: the entries of `streams` new to the group, up to `count` per
  // stream, waiting up to `wait`, split by slot (`reads`: the caller's own).
  // After a failure nothing, and a short pause.
  Reply read_new(BlockingLink& connection, StreamReads& reads, const char* group, const std::string& consumer, std::size_t count,
                 std::chrono::milliseconds wait, const std::vector<std::string>& streams);
  // XAUTOCLAIM: up to idle_claim_count of the stream's entries pending in the
  // group for longer than reclaim_after, now `consumer`'s; nothing after a failure.
  Reply claim_idle(const std::string& stream, const char* group, const std::string& consumer);
  // How often abandoned entries (the queue's, the outcome streams') are looked for.
  std::chrono::milliseconds reclaim_period() const;

  // No more pauses after a failed read: the store is stopping.
  void stop() { stopping_ = true; }

 private:
  RedisLink& client_;
  const std::chrono::milliseconds reclaim_after_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards tags_, grouped_ and tags_checked_
  std::set<std::string> tags_;
  std::set<std::string> grouped_;  // tags whose streams have our consumer groups
  std::chrono::steady_clock::time_point tags_checked_{};
  std::atomic<bool> tags_read_{false};
};

}  // namespace flashgate::store::redis
