#pragma once
// The windows' side of the queue: each tag's queue stream is read through
// the consumer group "windows", one blocking connection per window thread.
// An entry stays pending under the window's name from its read until its
// order is done with; while the window holds it, this worker renews it
// (reclaim_abandoned), so only the entries of dead workers go idle and are
// handed back to the queue.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/order.hpp"
#include "store/redis/consumer_groups.hpp"
#include "store/redis/near_cache.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/replica_wait.hpp"
#include "store/redis/stream_reads.hpp"

namespace flashgate::store::redis {

class QueueConsumer {
 public:
  // consumer_prefix names this process's windows in the group; open_connection
  // makes each window's own blocking connection.
  // A finish is done once `replica_waits` says a replica has it.
  QueueConsumer(RedisLink& client, ConsumerGroups& groups, NearCache& cache, BlockingLinkMaker open_connection,
                ReplicaWaits& replica_waits, std::string consumer_prefix);

  // Store's queue calls, on a window's thread.
  std::optional<domain::Order> claim(std::chrono::milliseconds wait);
  bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
              const std::string& external_id);
  void hand_back(const std::string& order_id);
  // A worker's periodic task: first renews the queue entries this process's
  // windows hold (their backlogs and the orders in hand), however long a
  // window waits on its order, then hands orders of dead windows (entries
  // idle past reclaim_after) back to the queue.
  std::size_t reclaim_abandoned();

  // Cuts the windows' connections: a window blocked in a read returns.
  void stop();

 private:
  struct QueueEntry {
    std::string stream;
    std::string entry_id;
    Reply fields;
  };
  // What a window thread keeps between claims: its connection, its name in
  // the consumer group, entries read and not yet claimed, and the entries of
  // the orders it claimed, until they are acknowledged. Only this window's
  // thread touches it (claim, finish and hand_back run there).
  struct Window {
    BlockingLink* connection = nullptr;
    StreamReads reads;
    std::string consumer;
    std::deque<QueueEntry> backlog;
    std::map<std::string, QueueEntry> claimed;  // order id -> its entry
    std::size_t refusals = 0;                    // of the backlog's first entry's claim, in a row
  };
  Window& this_window();
  // Reads the window's next entries into its backlog; false if none came.
  bool read_backlog(Window& window, std::chrono::milliseconds wait);
  // Windows' entries, renewed by reclaim_abandoned() while held.
  void hold(const Window& window, const QueueEntry& entry);
  void let_go(const QueueEntry& entry);
  void keep_held();
  // Acknowledges and deletes the entry of an order the window claimed.
  void ack(Window& window, const std::string& order_id);
  // Lets the entry of a claimed order go without deleting it: reclaimed after reclaim_after.
  void release(Window& window, const std::string& order_id);
  // The order is in a final status (or gone); false if not, or if Redis could not say.
  bool final_already(const std::string& order_id);

  RedisLink& client_;
  ConsumerGroups& groups_;
  NearCache& cache_;
  const BlockingLinkMaker open_connection_;
  ReplicaWaits& replica_waits_;
  const std::string consumer_prefix_;
  const std::uint64_t instance_;  // unique in the process: keys this consumer's windows on each thread
  std::mutex connections_mutex_;  // guards connections_ (added by window threads, cut by stop()) and next_window_
  std::vector<std::unique_ptr<BlockingLink>> connections_;
  std::uint64_t next_window_ = 0;
  std::mutex held_mutex_;  // guards held_ (windows add and remove, reclaim_abandoned() reads)
  std::map<std::pair<std::string, std::string>, std::string> held_;  // (queue, entry id) -> window's consumer
};

}  // namespace flashgate::store::redis
