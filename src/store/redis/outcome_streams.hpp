#pragma once
// The outcome log of the distributed store: each tag's outcome stream
// (fg:{T}:outcomes), which the scripts append a final outcome to, read
// through the consumer group "mirror". An entry is deleted once recorded;
// the entries a dead worker took are claimed after reclaim_after.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/outcome_log.hpp"
#include "store/redis/consumer_groups.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/stream_reads.hpp"

namespace flashgate::store::redis {

class OutcomeStreams {
 public:
  // consumer_prefix names this process in the group; open_connection makes
  // take()'s own connection, which blocks.
  OutcomeStreams(RedisLink& client, ConsumerGroups& groups, BlockingLinkMaker open_connection,
                 std::string consumer_prefix);

  // OutcomeLog's calls. take() is one taker's (not thread-safe, as OutcomeLog says).
  std::vector<OutcomeLog::Entry> take(std::chrono::milliseconds wait);
  void recorded(const OutcomeLog::Entry& entry);
  // Outcomes logged and not yet recorded, over every sale.
  std::uint64_t backlog();

  // Cuts take()'s connection: a take() blocked in its read returns.
  void stop();

 private:
  // Adds the entries of one stream's XREADGROUP / XAUTOCLAIM answer to `to`.
  void add(const std::string& stream, const Reply& entries, std::vector<OutcomeLog::Entry>& to);

  RedisLink& client_;
  ConsumerGroups& groups_;
  const BlockingLinkMaker open_connection_;
  const std::string consumer_;
  // take()'s, made by its first call: a process that only serves the gateway never opens it.
  std::unique_ptr<BlockingLink> connection_;
  StreamReads reads_;
  std::chrono::steady_clock::time_point reclaimed_{};  // take()'s last look for abandoned entries
};

}  // namespace flashgate::store::redis
