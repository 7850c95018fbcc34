#pragma once
// The change feed's thread: tails every tag's change stream (and
// fg:dropped) into the near-cache, the sold-out book and the listeners
// (gateways, and workers that mirror outcomes to the database). Change
// streams are trimmed (limits::changes_maxlen), so the thread also looks for
// changes trimmed before it read them, and forgets what they may have changed.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/redis/consumer_groups.hpp"
#include "store/redis/near_cache.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/sold_out_book.hpp"
#include "store/redis/stream_reads.hpp"
#include "store/order_desk.hpp"
#include "store/stock_ledger.hpp"

namespace flashgate::store::redis {

class ChangeFeed {
 public:
  // service_time_ms: the windows' recent service time, for the views the
  // listeners hear; open_connection makes the thread's blocking connection.
  ChangeFeed(ConsumerGroups& groups, NearCache& cache, SoldOutBook& sold_out,
             const std::atomic<std::int64_t>& service_time_ms, BlockingLinkMaker open_connection);

  // Starts the thread.
  void follow();
  // Joins it: afterwards no listener is called.
  void stop();

  void on_change(OrderDesk::ChangeListener listener);
  void on_sale_dropped(StockLedger::SaleDroppedListener listener);
  // The near-cache and the sold-out book let the sale go; the listeners hear of it.
  void forget_sale(const std::string& sale_id);

 private:
  void tail_loop();
  // The read position of each stream wanted now; a new stream starts at its
  // end while `first`, at its beginning after. The first rounds last until
  // Redis has told the tags and every stream's end (true then): a stream
  // that existed at the start, read from its beginning, puts each order's
  // old versions into the near-cache, to be served until the feed catches up.
  bool track_streams(std::map<std::string, std::string>& last, bool first);
  // Applies one XREAD answer, moving the read positions in `last`.
  void apply(const Reply& reply, std::map<std::string, std::string>& last);
  // A process that fell further behind than a change stream's length (the
  // feed's read positions in `last`) lost changes, so it forgets what they
  // may have changed. False if Redis could not be asked.
  bool check_lost_changes(const std::map<std::string, std::string>& last);
  void follow_sold_out(const std::string& sale_id);

  ConsumerGroups& groups_;
  NearCache& cache_;
  SoldOutBook& sold_out_;
  const std::atomic<std::int64_t>& service_time_ms_;
  const BlockingLinkMaker open_connection_;
  std::atomic<bool> stopping_{false};
  std::mutex listeners_mutex_;  // guards listeners_ and dropped_listeners_ (added by any thread, called by the feed's)
  std::vector<OrderDesk::ChangeListener> listeners_;
  std::vector<StockLedger::SaleDroppedListener> dropped_listeners_;
  std::unique_ptr<BlockingLink> connection_;  // the thread's, made by follow()
  StreamReads reads_;                         // the thread's
  std::thread thread_;
};

}  // namespace flashgate::store::redis
