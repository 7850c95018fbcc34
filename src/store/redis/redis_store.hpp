#pragma once
// The distributed Store: Redis holds stock, holders, orders, the queue and
// the change feed (see scripts.hpp for the keys); any number of gateway and
// worker processes share it. A gateway answers polls from its near-cache,
// which the change feed keeps fresh. Final outcomes also wait in a stream
// per sale tag until a worker has written them to PostgreSQL (OutcomeLog).
//
// RedisStore answers the gateway itself (intake, status, payment: the hot
// paths, one call deep) and hands every other concern to an object of its
// own, one file each:
//   redis_keys.hpp       the key layout          store_replies    reading the replies
//   consumer_groups      tags and their groups   queue_consumer   the windows' claim, ack, reclaim
//   outcome_streams      the outcome log         change_feed      the feed's thread, gap detection
//   sale_archive         drop_sale               sale_ledger      sales, stock, gauges, payment timeouts
//   bucket_mover         a bucketed sale's buckets: moves, recovery, sums, the final phase of an intake
//   redis_limits.hpp     stream lengths, block times and batches, the Lua's too
//   scripts, archive_scripts   the Lua (script_text fills in its limits)
//   redis_link.hpp       the engine, a single Redis or a Redis Cluster, behind
//                        RedisLink (async) and BlockingLink; stream_reads splits
//                        the multi-stream reads by slot
//   replica_wait         WAIT for replicas after the writes a client was told of
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/outcome_log.hpp"
#include "store/queue_reclaim.hpp"
#include "store/redis/bucket_mover.hpp"
#include "store/redis/change_feed.hpp"
#include "store/redis/consumer_groups.hpp"
#include "store/redis/near_cache.hpp"
#include "store/redis/outcome_streams.hpp"
#include "store/redis/cluster/endpoint.hpp"
#include "store/redis/queue_consumer.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/replica_wait.hpp"
#include "store/redis/sale_archive.hpp"
#include "store/redis/sale_ledger.hpp"
#include "store/redis/sold_out_book.hpp"
#include "store/store.hpp"

namespace flashgate::store::redis {

struct RedisStoreOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  // Not empty: a Redis Cluster, found from these nodes (host and port unused).
  std::vector<cluster::Endpoint> cluster_seeds;
  // Connections of a single Redis's shared client (one when waiting for replicas:
  // WAIT covers its own connection's writes). A cluster's: one per master.
  std::size_t connections = 2;
  // WAIT for this many replicas after each write a client is told of (intake,
  // payment, a window's finish); unset: 1 if every master has a replica, else 0.
  std::optional<int> wait_replicas;
  std::chrono::milliseconds wait_timeout{1000};
  std::size_t near_cache_orders = 1'000'000;
  std::chrono::milliseconds reclaim_after{30'000};  // a claimed order idle this long belonged to a dead worker
  std::string consumer_prefix;                      // names this process's windows in the consumer group
};

class RedisStore final : public Store, public OutcomeLog, public QueueReclaim {
 public:
  explicit RedisStore(RedisStoreOptions options);
  ~RedisStore() override;
  // Joins every thread of the store (change feed, client I/O): afterwards no
  // listener is called and no callback runs. For an explicit shutdown order;
  // the destructor does it too. Windows must have stopped first.
  void stop();

  // Tails the change feed into the near-cache and the listeners (gateways, and
  // workers that mirror outcomes to the database).
  void follow_changes() {
    feed_.follow();
    following_ = true;
  }
  // A worker's periodic task (QueueConsumer::reclaim_abandoned).
  std::size_t reclaim_abandoned() override { return queue_.reclaim_abandoned(); }
  // How often abandoned entries (the queue's, the outcome streams') are looked for.
  std::chrono::milliseconds reclaim_period() const override { return groups_.reclaim_period(); }

  // The gateway's calls, answered here.
  void create_sale(const domain::Sale& sale, Callback<SaleView> done) override;
  void get_sale(const std::string& sale_id, Callback<SaleView> done) override;
  using OrderDesk::intake;
  void intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) override;
  void get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) override;
  void pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) override;
  void stop_intake() override { intake_open_ = false; }
  void on_change(ChangeListener listener) override { feed_.on_change(std::move(listener)); }

  // The windows' calls.
  std::optional<domain::Order> claim(std::chrono::milliseconds wait) override { return queue_.claim(wait); }
  bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
              const std::string& external_id) override {
    return queue_.finish(order_id, to, reason, external_id);
  }
  void hand_back(const std::string& order_id) override { queue_.hand_back(order_id); }
  void record_service_time(std::int64_t ms) override { service_time_ms_ = ms; }

  // The application's and the periodic tasks' calls.
  std::size_t cancel_unpaid(domain::TimeMs confirmed_before) override { return ledger_.cancel_unpaid(confirmed_before); }
  std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale() override { return ledger_.remaining_by_sale(); }
  void set_remaining_db(const std::string& sale_id, std::int64_t remaining) override {
    ledger_.set_remaining_db(sale_id, remaining);
  }
  std::uint64_t queue_depth() override { return ledger_.queue_depth(); }
  std::int64_t rebalance_buckets() override { return ledger_.rebalance_buckets(); }
  std::vector<domain::Sale> sales() override { return ledger_.sales(); }
  std::vector<SaleView> sale_views() override { return ledger_.sale_views(); }
  domain::Result<Empty> drop_sale(const std::string& sale_id) override { return archive_.drop_sale(sale_id); }
  void on_sale_dropped(SaleDroppedListener listener) override { feed_.on_sale_dropped(std::move(listener)); }

  // OutcomeLog: the outcome streams (OutcomeStreams).
  std::vector<OutcomeLog::Entry> take(std::chrono::milliseconds wait) override { return outcomes_.take(wait); }
  void recorded(const OutcomeLog::Entry& entry) override { outcomes_.recorded(entry); }
  // Outcomes logged and not yet recorded, over every sale.
  std::uint64_t outcome_backlog() { return outcomes_.backlog(); }

  const NearCache& near_cache() const { return cache_; }
  // The shared client, for the parts of a worker that run scripts of their own (RedisDraws).
  RedisLink& link() { return *client_; }
  // The replicas each write is waited for (the option, or what was found at start).
  int wait_replicas() const { return replica_waits_.replicas(); }
  const SoldOutBook& sold_out_book() const { return sold_out_; }
  BucketMover& bucket_mover() { return mover_; }

 private:
  // Records what a script reply says about an order in the near-cache.
  OrderView remember(const Reply& reply);
  // Answers an accepted or existing intake once replica_waits_ is met for the write of `key`'s slot.
  void replicated(const std::string& key, IntakeOutcome taken, const Callback<IntakeOutcome>& done);
  // Buckets (docs/architecture.md "Buckets"): the number this process knows a sale has (1 unless told),
  // an intake told another by the script, a bucketed sale's intake in the buyer's home bucket.
  std::int64_t bucket_count(const std::string& sale_id) const;
  void rerouted(const std::string& sale_id, const IntakeRequest& request, const Reply& reply, int attempt,
                const Callback<IntakeOutcome>& done);
  void intake_in_bucket(const std::string& sale_id, const IntakeRequest& request, std::int64_t buckets, int attempt,
                        Callback<IntakeOutcome> done);
  void create_bucketed_sale(const domain::Sale& sale, const Callback<SaleView>& done);

  // Declared before what uses them: members are destroyed in reverse order
  // (stop() has joined every thread by then).
  RedisStoreOptions options_;
  std::unique_ptr<RedisLink> client_;
  BlockingLinkMaker open_connection_;  // a blocking connection of the same engine
  ReplicaWaits replica_waits_;
  BucketMover mover_;
  mutable std::shared_mutex buckets_mutex_;                // guards bucketed_: read by every intake
  std::unordered_map<std::string, std::int64_t> bucketed_;  // sale id -> buckets, for sales of more than one
  NearCache cache_;
  SoldOutBook sold_out_;
  std::atomic<bool> intake_open_{true};
  // The feed is read: what the sold-out book knows of bucketed sales is kept current (it is not otherwise).
  std::atomic<bool> following_{false};
  std::atomic<std::int64_t> service_time_ms_{0};
  ConsumerGroups groups_;
  QueueConsumer queue_;
  OutcomeStreams outcomes_;
  ChangeFeed feed_;
  SaleArchive archive_;
  SaleLedger ledger_;
};

}  // namespace flashgate::store::redis
