#pragma once
// The embedded Store: all state in this process's memory, made durable by a
// Journal (SQLite) before any intake, payment or cancellation is answered.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "store/sharded_map.hpp"
#include "store/short_key_map.hpp"
#include "domain/queue_hint.hpp"
#include "store/journal.hpp"
#include "store/sale_draws.hpp"
#include "store/store.hpp"
#include "store/writer_first_mutex.hpp"

namespace flashgate::store {

class MemoryStore final : public Store, public SaleDraws {
 public:
  explicit MemoryStore(Journal& journal);
  ~MemoryStore() override;

  // Rebuilds the state from the journal; orders left PROCESSING go back in line.
  void restore(const JournalState& state);

  void create_sale(const domain::Sale& sale, Callback<SaleView> done) override;
  void get_sale(const std::string& sale_id, Callback<SaleView> done) override;
  using OrderDesk::intake;
  void intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) override;
  void get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) override;
  void pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) override;
  void stop_intake() override;
  void on_change(ChangeListener listener) override;

  std::optional<domain::Order> claim(std::chrono::milliseconds wait) override;
  bool finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
              const std::string& external_id) override;
  void hand_back(const std::string& order_id) override;
  std::size_t cancel_unpaid(domain::TimeMs confirmed_before) override;
  std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale() override;
  void set_remaining_db(const std::string& sale_id, std::int64_t remaining) override;

  std::vector<domain::Sale> sales() override;
  std::vector<SaleView> sale_views() override;
  domain::Result<Empty> drop_sale(const std::string& sale_id) override;
  void on_sale_dropped(SaleDroppedListener listener) override;
  std::uint64_t queue_depth() override;
  // One stock per sale whatever its buckets say: nothing ever moves.
  std::int64_t rebalance_buckets() override { return 0; }
  void record_service_time(std::int64_t ms) override;

  std::size_t run_due_draws(domain::TimeMs now) override;

 private:
  // One item of a sale of several (domain::SaleItem): its own stock and counts.
  struct ItemEntry {
    std::int64_t remaining = 0;
    std::optional<std::int64_t> remaining_db;
    std::array<std::uint64_t, domain::all_statuses.size()> counts{};
    std::array<std::uint64_t, domain::all_statuses.size()> units{};
  };
  struct SaleEntry {
    domain::Sale sale;
    std::int64_t remaining = 0;
    std::optional<std::int64_t> remaining_db;
    std::uint64_t seq = 0;      // intakes numbered so far
    std::uint64_t started = 0;     // orders a window has started
    std::set<std::uint64_t> skipped;  // intake numbers of intakes that failed to commit
    domain::RateMeter start_rate;
    ShardedMap<std::string> holders;  // hold key (domain::hold_key) -> order id
    // buyer (domain::buyer_key: per item in a sale of several) -> units held in
    // orders not given back; kept only where the buyer's limit is above 1
    // (with one unit allowed, the holder entry alone says the buyer holds it).
    ShardedMap<std::int64_t> held_units;
    std::vector<ItemEntry> items;  // a sale of several items: one per sale.items, in its order
    std::array<std::uint64_t, domain::all_statuses.size()> counts{};
    std::array<std::uint64_t, domain::all_statuses.size()> units{};
    bool dropping = false;  // drop_sale is removing it: intakes answer not found
    // A draw sale's draw: entry open (none), entry closed and the draw under
    // way (frozen: intakes answer 503 until it is applied), applied (drawn).
    enum class DrawState : std::uint8_t { none, frozen, drawn } draw_state = DrawState::none;
    std::optional<domain::DrawSeed> draw_seed;  // once durable in the journal
    std::vector<std::string> entrants;          // ENTERED order ids (one whose commit failed is skipped)
    std::uint64_t entering = 0;                 // ENTERED intakes not committed yet
  };
  struct OrderEntry {
    domain::Order order;
    bool durable = false;             // the intake is committed
    bool transition_pending = false;  // a payment or cancellation is being written
    domain::TimeMs confirmed_at = 0;
  };

  OrderView view_of(const OrderEntry& entry, domain::TimeMs now) const;
  static SaleEntry new_sale_entry(const domain::Sale& sale);
  // The item of a sale of several that `item_id` names; nullptr in a sale of one item (or an unknown id).
  static ItemEntry* item_entry(SaleEntry& sale, std::string_view item_id);
  // An order of `quantity` units counted under `status` (added, or removed with -1), in the sale and its item.
  static void count_order(SaleEntry& sale, const domain::Order& order, domain::OrderStatus status, int sign);
  // A sale's or (under domain::item_stock_key) an item's remaining_db; the caller holds mutex_.
  void set_remaining_db_locked(const std::string& key, std::int64_t remaining);
  SaleView sale_view(const SaleEntry& sale) const;
  // Bookkeeping of a status change already applied to `entry.order`.
  void account(SaleEntry& sale, domain::OrderStatus from, const OrderEntry& entry, domain::TimeMs now);
  // The order's units are the sale's again, and its buyer's allowance.
  static void give_back(SaleEntry& sale, const domain::Order& order);
  // The order's hold key and its buyer's allowance are free again (no unit was reserved).
  static void drop_hold(SaleEntry& sale, const domain::Order& order);
  // Whether intakes of the sale are still decided by its draw (entrants, or 503 while it is made).
  static bool awaits_draw(const SaleEntry& sale);
  // One sale's draw, the steps of SaleDraws' contract; false if not completed now.
  bool draw_sale(const std::string& sale_id, domain::TimeMs now);
  void publish(const OrderView& view);
  bool record_and_wait(const domain::Order& order);
  // Intakes whose commit ended, finished together under one lock (see Journal::on_commit_end).
  void complete_intakes();
  domain::Result<IntakeOutcome> complete_intake_locked(const std::string& order_id, bool durable);
  void complete_payment(const std::string& order_id, const domain::Order& paid, bool durable,
                        const Callback<OrderView>& done);

  struct CommittedIntake {
    std::string order_id;
    bool durable = false;
    Callback<IntakeOutcome> done;
  };

  Journal& journal_;
  // Filled by the journal's done callbacks, emptied at the commit's end.
  std::mutex committed_mutex_;
  std::vector<CommittedIntake> committed_;
  std::vector<std::function<void()>> after_commit_;  // retries of intakes that waited for one
  // Shared by what only reads (polls, sale look-ups), so the I/O threads
  // answer polls side by side instead of queueing on one lock.
  mutable WriterFirstMutex mutex_;
  std::condition_variable_any queue_cv_;
  std::unordered_map<std::string, SaleEntry> sales_;
  ShortKeyMap<OrderEntry> orders_;
  std::deque<std::string> queue_;                                   // durable QUEUED order ids
  std::deque<std::pair<domain::TimeMs, std::string>> confirmed_;    // (confirmed at, id), oldest first
  std::vector<ChangeListener> listeners_;
  std::vector<SaleDroppedListener> dropped_listeners_;
  bool intake_open_ = true;
  double service_time_ms_ = 0.0;  // moving average
};

}  // namespace flashgate::store
