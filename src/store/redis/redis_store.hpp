#pragma once
// The distributed Store: Redis holds stock, holders, orders, the queue and
// the change feed (see scripts.hpp for the keys); any number of gateway and
// worker processes share it. A gateway answers polls from its near-cache,
// which the change feed keeps fresh. Final outcomes also wait in a stream
// per sale tag until a worker has written them to PostgreSQL (OutcomeLog).
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "store/redis/blocking_redis.hpp"
#include "store/redis/near_cache.hpp"
#include "store/redis/sold_out_book.hpp"
#include "store/outcome_log.hpp"
#include "store/redis/redis_client.hpp"
#include "store/store.hpp"

namespace flashgate::store::redis {

struct RedisStoreOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::size_t connections = 2;
  std::size_t near_cache_orders = 1'000'000;
  std::chrono::milliseconds reclaim_after{30'000};  // a claimed order idle this long belonged to a dead worker
  std::string consumer_prefix;                      // names this process's windows in the consumer group
};

class RedisStore final : public Store, public OutcomeLog {
 public:
  explicit RedisStore(RedisStoreOptions options);
  ~RedisStore() override;
  // Joins every thread of the store (change feed, client I/O): afterwards no
  // listener is called and no callback runs. For an explicit shutdown order;
  // the destructor does it too. Windows must have stopped first.
  void stop();

  // Tails the change feed into the near-cache and the listeners (gateways, and
  // workers that mirror outcomes to the database).
  void follow_changes();
  // A worker's periodic task: first renews the queue entries this process's
  // windows hold (their backlogs and the orders in hand), however long a
  // window waits on its order, then hands orders of dead windows (entries
  // idle past reclaim_after) back to the queue.
  std::size_t reclaim_abandoned();
  // How often abandoned entries (the queue's, the outcome streams') are looked for.
  std::chrono::milliseconds reclaim_period() const;

  void create_sale(const domain::Sale& sale, Callback<SaleView> done) override;
  void get_sale(const std::string& sale_id, Callback<SaleView> done) override;
  using Store::intake;
  void intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) override;
  void get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) override;
  void pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) override;
  void stop_intake() override { intake_open_ = false; }
  void on_change(ChangeListener listener) override;

  std::optional<domain::Order> claim(std::chrono::milliseconds wait) override;
  bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
              const std::string& external_id) override;
  void hand_back(const std::string& order_id) override;
  std::size_t cancel_unpaid(domain::TimeMs confirmed_before) override;
  std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale() override;
  void set_remaining_db(const std::string& sale_id, std::int64_t remaining) override;

  std::uint64_t queue_depth() override;
  void record_service_time(std::int64_t ms) override { service_time_ms_ = ms; }

  std::vector<domain::Sale> sales() override;
  // The sales of fg:sales and those of fg:dropping (an archive cut short).
  std::vector<SaleView> sale_views() override;
  // Removes an archived sale's keys: see scripts.hpp for the steps. Resumable:
  // each step may run again, and a sale already gone is success. Every
  // process forgets the sale once done (fg:dropped).
  domain::Result<Empty> drop_sale(const std::string& sale_id) override;
  void on_sale_dropped(SaleDroppedListener listener) override;

  // OutcomeLog: the outcome streams, read through the consumer group
  // "mirror"; entries a dead worker took are claimed after reclaim_after.
  std::vector<OutcomeLog::Entry> take(std::chrono::milliseconds wait) override;
  void recorded(const OutcomeLog::Entry& entry) override;
  // Outcomes logged and not yet recorded, over every sale.
  std::uint64_t outcome_backlog();

  const NearCache& near_cache() const { return cache_; }
  const SoldOutBook& sold_out_book() const { return sold_out_; }

 private:
  struct QueueEntry {
    std::string stream;
    std::string entry_id;
    Reply fields;
  };
  OrderView view_of(const domain::Order& order, const SaleProgress& progress) const;
  // Records what a script reply says about an order in the near-cache.
  OrderView remember(const Reply& reply);
  std::vector<std::string> tags();  // known tags, refreshed from fg:tags
  bool ensure_group(const std::string& tag);  // the queue's and the outcome stream's; false if not made
  // XREADGROUP: the entries of `streams` new to the group, up to `count` per
  // stream, waiting up to `wait`. After a failure nothing, and a short pause.
  Reply read_new(BlockingRedis& connection, const char* group_name, const std::string& consumer, std::size_t count,
                 std::chrono::milliseconds wait, const std::vector<std::string>& streams);
  // XAUTOCLAIM: up to 100 of the stream's entries pending in the group for
  // longer than reclaim_after, now `consumer`'s; nothing after a failure.
  Reply claim_idle(const std::string& stream, const char* group_name, const std::string& consumer);
  // Adds the entries of one stream's XREADGROUP / XAUTOCLAIM answer to `to`.
  void add_outcomes(const std::string& stream, const Reply& entries, std::vector<OutcomeLog::Entry>& to);
  // What a window thread keeps between claims: its connection, its name in
  // the consumer group, entries read and not yet claimed, and the entries of
  // the orders it claimed, until they are acknowledged. Only this window's
  // thread touches it (claim, finish and hand_back run there).
  struct Window {
    BlockingRedis* connection = nullptr;
    std::string consumer;
    std::deque<QueueEntry> backlog;
    std::map<std::string, QueueEntry> claimed;  // order id -> its entry
    std::size_t refusals = 0;                    // of the backlog's first entry's claim, in a row
  };
  Window& this_window();
  // Windows' entries, renewed by reclaim_abandoned() while held.
  void hold(const Window& window, const QueueEntry& entry);
  void let_go(const QueueEntry& entry);
  void keep_held();
  // Acknowledges and deletes the entry of an order the window claimed.
  void ack(Window& window, const std::string& order_id);
  // Lets the entry of a claimed order go without deleting it: reclaimed after reclaim_after.
  void release(Window& window, const std::string& order_id);
  void tail_loop();
  // Change streams are trimmed (MAXLEN ~ 100000): a process that fell further
  // behind (the feed's read positions in `last`) lost changes, so it forgets
  // what they may have changed. False if Redis could not be asked.
  bool check_lost_changes(const std::map<std::string, std::string>& last);
  void follow_sold_out(const std::string& sale_id);
  // Another sale in fg:sales or fg:dropping has this tag; nullopt if Redis could not say.
  std::optional<bool> tag_shared(const std::string& sale_id, const std::string& tag);
  // The near-cache and the sold-out book let the sale go; the listeners hear of it.
  void forget_sale(const std::string& sale_id);

  RedisStoreOptions options_;
  const std::uint64_t instance_;  // unique in the process
  RedisClient client_;
  NearCache cache_;
  SoldOutBook sold_out_;
  std::atomic<bool> intake_open_{true};
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> service_time_ms_{0};
  std::mutex mutex_;
  std::set<std::string> tags_;
  std::set<std::string> grouped_;  // tags whose queue has our consumer group
  std::chrono::steady_clock::time_point tags_checked_{};
  std::mutex held_mutex_;
  std::map<std::pair<std::string, std::string>, std::string> held_;  // (queue, entry id) -> window's consumer
  std::vector<ChangeListener> listeners_;
  std::vector<SaleDroppedListener> dropped_listeners_;
  std::vector<std::unique_ptr<BlockingRedis>> window_connections_;
  std::unique_ptr<BlockingRedis> tail_connection_;
  std::unique_ptr<BlockingRedis> outcome_connection_;  // take()'s, which blocks
  std::chrono::steady_clock::time_point outcomes_reclaimed_{};
  std::thread tail_;
  std::atomic<std::uint64_t> next_window_{0};
};

}  // namespace flashgate::store::redis
