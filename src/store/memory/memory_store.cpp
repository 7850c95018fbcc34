#include "store/memory/memory_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <thread>

#include "domain/draw.hpp"

#include "domain/ids.hpp"
#include "platform/free_memory.hpp"

namespace flashgate::store {

using domain::Error;
using domain::ErrorCode;
using domain::OrderStatus;

namespace {

std::size_t index_of(OrderStatus s) { return static_cast<std::size_t>(s); }

const Error unavailable{ErrorCode::unavailable, "the order could not be stored; try again shortly"};
// Between the end of a draw window and the draw's result: a latecomer's place depends on how many were drawn.
const Error drawing{ErrorCode::unavailable, "the sale's draw is being made; try again in a moment"};

// The statuses whose units count against the buyer's limit: those holding
// units, and an entrant's (it may be drawn).
bool counts_for_buyer(OrderStatus s) { return domain::holds_units(s) || s == OrderStatus::entered; }

// Statuses a window has started (QUEUED waits, ENTERED and NOT_DRAWN never were in line).
bool was_started(OrderStatus s) {
  return s != OrderStatus::queued && s != OrderStatus::entered && s != OrderStatus::not_drawn;
}

bool wait_for(const std::function<void(store::Journal::Done)>& write) {
  std::promise<bool> durable;
  auto result = durable.get_future();
  write([&durable](bool ok) { durable.set_value(ok); });
  return result.get();
}

}  // namespace

MemoryStore::MemoryStore(Journal& journal) : journal_(journal) {
  journal_.on_commit_end([this] { complete_intakes(); });
}

MemoryStore::~MemoryStore() { journal_.on_commit_end({}); }

void MemoryStore::restore(const JournalState& state) {
  std::vector<domain::Order> handed_back;
  {
    std::lock_guard lock(mutex_);
    for (const auto& sale : state.sales) sales_.emplace(sale.sale_id, new_sale_entry(sale));
    for (const auto& [key, remaining] : state.remaining_db) set_remaining_db_locked(key, remaining);

    const auto now = domain::now_ms();
    std::unordered_map<std::string, std::set<std::uint64_t>> seqs;
    for (auto order : state.orders) {
      auto sale_it = sales_.find(order.sale_id);
      if (sale_it == sales_.end()) continue;
      SaleEntry& sale = sale_it->second;
      if (order.status == OrderStatus::processing) {
        domain::apply_transition(order, OrderStatus::queued, now);
        handed_back.push_back(order);
      }
      OrderEntry entry{order, true, false, 0};
      if (order.status == OrderStatus::confirmed) {
        entry.confirmed_at = order.updated_at;
        confirmed_.emplace_back(order.updated_at, order.order_id);
      }
      ItemEntry* item = item_entry(sale, order.item_id);
      if (domain::holds_units(order.status)) {
        sale.remaining -= order.quantity;
        if (item) item->remaining -= order.quantity;
      }
      if (counts_for_buyer(order.status)) {
        sale.holders[domain::hold_key(order)] = order.order_id;
        if (domain::buyer_limit(sale.sale, order.item_id) > 1)
          sale.held_units[domain::buyer_key(order.user_id, order.item_id)] += order.quantity;
      }
      if (order.status == OrderStatus::entered) sale.entrants.push_back(order.order_id);
      if (order.status == OrderStatus::queued) queue_.push_back(order.order_id);
      else if (was_started(order.status)) sale.started += 1;
      seqs[order.sale_id].insert(order.seq);
      sale.seq = std::max(sale.seq, order.seq);
      count_order(sale, order, order.status, 1);
      orders_.try_emplace(order.order_id, std::move(entry));
    }
    // Numbers of intakes that never committed hold no order; positions skip them.
    for (auto& [id, sale] : sales_) {
      const auto& present = seqs[id];
      for (std::uint64_t seq = 1; seq <= sale.seq; ++seq)
        if (!present.contains(seq)) sale.skipped.insert(seq);
    }
    std::sort(confirmed_.begin(), confirmed_.end());
    for (const auto& draw : state.draws) {
      auto it = sales_.find(draw.sale_id);
      if (it == sales_.end()) continue;
      it->second.draw_seed = draw.seed;
      // A seed without a result: entry stays closed and the drawer finishes the draw with it.
      it->second.draw_state = draw.applied ? SaleEntry::DrawState::drawn : SaleEntry::DrawState::frozen;
    }
    // The journal lists orders in intake order; a drawn sale's line is in
    // draw order (seq = position). Each sale's queued orders take the places
    // its orders held in the queue, sorted by seq.
    std::unordered_map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> lines;
    for (const auto& id : queue_) {
      const auto& order = orders_.at(id).order;
      lines[order.sale_id].emplace_back(order.seq, id);
    }
    for (auto& [sale_id, line] : lines) std::sort(line.begin(), line.end(), std::greater<>());
    for (auto& id : queue_) {
      auto& line = lines[orders_.at(id).order.sale_id];
      id = std::move(line.back().second);
      line.pop_back();
    }
  }
  for (const auto& order : handed_back) journal_.record_order(order, {});
}

OrderView MemoryStore::view_of(const OrderEntry& entry, domain::TimeMs now) const {
  OrderView view{entry.order, 0, 0, std::nullopt};
  const auto& sale = sales_.at(entry.order.sale_id);
  if (entry.order.status == OrderStatus::queued) {
    const auto skipped_below =
        static_cast<std::uint64_t>(std::distance(sale.skipped.begin(), sale.skipped.lower_bound(entry.order.seq)));
    view.position = domain::queue_position(entry.order.seq - skipped_below, sale.started);
  }
  const double rate = sale.start_rate.per_second(now);
  view.poll_after_ms = domain::poll_after_ms(entry.order.status, view.position, rate,
                                             static_cast<std::int64_t>(service_time_ms_));
  if (entry.order.status == OrderStatus::queued) view.estimated_wait_ms = domain::estimated_wait_ms(view.position, rate);
  if (entry.order.status == OrderStatus::entered) {
    view.draw_at = domain::draw_at(sale.sale, sale.sale.admission);
    view.poll_after_ms = domain::entrant_poll_after_ms(*view.draw_at, now);
  }
  return view;
}

SaleView MemoryStore::sale_view(const SaleEntry& sale) const {
  SaleView view;
  view.sale = sale.sale;
  view.remaining = sale.remaining;
  view.remaining_db = sale.remaining_db;
  view.counts = sale.counts;
  view.units = sale.units;
  view.queue_depth = sale.counts[index_of(OrderStatus::queued)];
  view.items.reserve(sale.items.size());
  for (std::size_t i = 0; i < sale.items.size(); ++i) {
    const ItemEntry& item = sale.items[i];
    view.items.push_back(ItemView{sale.sale.items[i], item.remaining, item.remaining_db, item.counts, item.units});
  }
  return view;
}

MemoryStore::SaleEntry MemoryStore::new_sale_entry(const domain::Sale& sale) {
  SaleEntry entry;
  entry.sale = sale;
  entry.remaining = sale.stock;
  entry.items.reserve(sale.items.size());
  for (const auto& item : sale.items) entry.items.push_back(ItemEntry{item.stock, std::nullopt, {}, {}});
  return entry;
}

MemoryStore::ItemEntry* MemoryStore::item_entry(SaleEntry& sale, std::string_view item_id) {
  if (item_id.empty()) return nullptr;
  for (std::size_t i = 0; i < sale.sale.items.size(); ++i)
    if (sale.sale.items[i].item_id == item_id) return &sale.items[i];
  return nullptr;
}

void MemoryStore::count_order(SaleEntry& sale, const domain::Order& order, OrderStatus status, int sign) {
  const auto units = static_cast<std::uint64_t>(order.quantity);
  const auto orders = static_cast<std::uint64_t>(1);
  const auto add = [&](auto& counts, auto& unit_counts) {
    if (sign > 0) {
      counts[index_of(status)] += orders;
      unit_counts[index_of(status)] += units;
    } else {
      counts[index_of(status)] -= orders;
      unit_counts[index_of(status)] -= units;
    }
  };
  add(sale.counts, sale.units);
  if (ItemEntry* item = item_entry(sale, order.item_id)) add(item->counts, item->units);
}

void MemoryStore::account(SaleEntry& sale, OrderStatus from, const OrderEntry& entry, domain::TimeMs now) {
  const auto& order = entry.order;
  count_order(sale, order, from, -1);
  count_order(sale, order, order.status, 1);
  if (from == OrderStatus::queued && order.status == OrderStatus::processing) {
    sale.started += 1;
    sale.start_rate.record(now);
  }
  if (domain::releases_unit(order.status)) give_back(sale, order);
}

void MemoryStore::give_back(SaleEntry& sale, const domain::Order& order) {
  sale.remaining += order.quantity;
  if (ItemEntry* item = item_entry(sale, order.item_id)) item->remaining += order.quantity;
  drop_hold(sale, order);
}

bool MemoryStore::awaits_draw(const SaleEntry& sale) {
  return sale.sale.admission.is_draw() && sale.draw_state != SaleEntry::DrawState::drawn;
}

void MemoryStore::drop_hold(SaleEntry& sale, const domain::Order& order) {
  const std::string key = domain::hold_key(order);
  if (auto* holder = sale.holders.find(key); holder && *holder == order.order_id) sale.holders.erase(key);
  const std::string buyer = domain::buyer_key(order.user_id, order.item_id);
  if (auto* held = sale.held_units.find(buyer)) {
    *held -= order.quantity;
    if (*held <= 0) sale.held_units.erase(buyer);
  }
}

void MemoryStore::publish(const OrderView& view) {
  for (const auto& listener : listeners_) listener(view);
}

bool MemoryStore::record_and_wait(const domain::Order& order) {
  std::promise<bool> durable;
  auto result = durable.get_future();
  journal_.record_order(order, [&durable](bool ok) { durable.set_value(ok); });
  return result.get();
}

void MemoryStore::create_sale(const domain::Sale& sale, Callback<SaleView> done) {
  {
    std::lock_guard lock(mutex_);
    if (sales_.contains(sale.sale_id)) return done(domain::refusal(ErrorCode::sale_exists));
    SaleEntry entry = new_sale_entry(sale);
    // Held in memory before it is durable so that a racing create sees it; the
    // journal's answer decides whether it stays.
    sales_.emplace(sale.sale_id, std::move(entry));
  }
  journal_.record_sale(sale, [this, sale_id = sale.sale_id, done = std::move(done)](bool ok) {
    std::unique_lock lock(mutex_);
    if (!ok) {
      sales_.erase(sale_id);
      lock.unlock();
      return done(Error{ErrorCode::unavailable, "the sale could not be stored; try again shortly"});
    }
    auto view = sale_view(sales_.at(sale_id));
    lock.unlock();
    done(std::move(view));
  });
}

void MemoryStore::get_sale(const std::string& sale_id, Callback<SaleView> done) {
  std::shared_lock lock(mutex_);
  auto it = sales_.find(sale_id);
  if (it == sales_.end()) {
    lock.unlock();
    return done(domain::refusal(ErrorCode::sale_not_found));
  }
  auto view = sale_view(it->second);
  lock.unlock();
  done(std::move(view));
}

void MemoryStore::intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) {
  std::unique_lock lock(mutex_);
  auto refuse = [&](Error error) {
    lock.unlock();
    done(std::move(error));
  };
  if (!intake_open_) return refuse(domain::refusal(ErrorCode::shutting_down));
  auto sale_it = sales_.find(sale_id);
  if (sale_it == sales_.end() || sale_it->second.dropping)
    return refuse(domain::refusal(ErrorCode::sale_not_found));
  SaleEntry& sale = sale_it->second;
  const auto now = domain::now_ms();
  // A draw sale before its draw is applied: entrants, or a wait for the draw.
  // While the draw is made an entrant's repeat still finds its order (below); anyone else waits.
  const bool entering = awaits_draw(sale);
  bool awaiting_result = false;
  if (entering) {
    const auto phase = domain::admission_phase(sale.sale, sale.sale.admission, now);
    if (phase == domain::AdmissionPhase::not_open) return refuse(domain::refusal(ErrorCode::sale_not_open));
    awaiting_result = phase == domain::AdmissionPhase::first_come || sale.draw_state != SaleEntry::DrawState::none;
  } else if (auto refused = domain::window_refusal(sale.sale, now)) {
    return refuse(domain::refusal(*refused));
  }
  // A sale of several items needs one of them named; a sale of one ignores the name.
  if (auto refused = domain::item_refusal(sale.sale, request.item_id)) return refuse(std::move(*refused));
  ItemEntry* item = item_entry(sale, request.item_id);
  const std::string_view item_id = item ? std::string_view(request.item_id) : std::string_view();
  const bool several = domain::buyer_limit(sale.sale, item_id) > 1;
  // A request id names one of several orders; with one unit allowed there is only one.
  std::string request_id = several ? request.request_id : std::string();
  // The user id itself unless a request id or an item is part of the key: no copy on the single-item, single-unit path.
  std::string keyed;
  if (!request_id.empty() || item) keyed = domain::hold_key(request.user_id, request_id, item_id);
  const std::string& key = keyed.empty() ? request.user_id : keyed;
  // Dedupe the request before taking stock, in the same critical section.
  if (const auto* holder = sale.holders.find(key)) {
    const auto& entry = orders_.at(*holder);
    if (entry.durable) {
      auto view = view_of(entry, now);
      lock.unlock();
      return done(IntakeOutcome{false, std::move(view)});
    }
    // The first intake of this request is still being committed: answer once
    // it is (after the intakes of that commit are complete, at its end).
    lock.unlock();
    return journal_.barrier([this, sale_id, request, done = std::move(done)](bool) mutable {
      std::lock_guard committed_lock(committed_mutex_);
      after_commit_.push_back([this, sale_id = std::move(sale_id), request = std::move(request),
                               done = std::move(done)]() mutable { intake(sale_id, request, std::move(done)); });
    });
  }
  if (awaiting_result) return refuse(drawing);
  // Units are counted per buyer and item: keyed by the user alone in a sale of one item.
  std::string buyer = item ? domain::buyer_key(request.user_id, item_id) : std::string();
  const std::string& buyer_key = item ? buyer : request.user_id;
  const std::int64_t held = several ? [&] {
    const auto* units = sale.held_units.find(buyer_key);
    return units ? *units : std::int64_t{0};
  }() : 0;
  if (auto refused = domain::quantity_refusal(domain::buyer_limit(sale.sale, item_id), request.quantity, held,
                                              item ? item->remaining : sale.remaining))
    return refuse(std::move(*refused));

  OrderEntry entry;
  entry.order.order_id = domain::new_order_id();
  entry.order.sale_id = sale_id;
  entry.order.user_id = request.user_id;
  entry.order.quantity = request.quantity;
  entry.order.request_id = std::move(request_id);
  entry.order.item_id = std::string(item_id);
  entry.order.created_at = entry.order.updated_at = now;
  if (entering) {
    // No unit and no place in line yet: the draw gives both (seq = position).
    entry.order.status = OrderStatus::entered;
    entry.order.seq = 0;
    sale.entrants.push_back(entry.order.order_id);
    sale.entering += 1;
  } else {
    entry.order.seq = ++sale.seq;
    sale.remaining -= request.quantity;
    if (item) item->remaining -= request.quantity;
  }
  sale.holders.try_emplace(key, entry.order.order_id);
  if (several) sale.held_units[buyer_key] += request.quantity;
  count_order(sale, entry.order, entry.order.status, 1);
  domain::Order order = entry.order;  // the journal's copy: the entry may change before the commit
  std::string order_id = order.order_id;
  orders_.try_emplace(order_id, std::move(entry));
  lock.unlock();

  journal_.record_order(std::move(order), [this, order_id = std::move(order_id), done = std::move(done)](bool durable) mutable {
    std::lock_guard committed_lock(committed_mutex_);
    committed_.push_back({std::move(order_id), durable, std::move(done)});
  });
}

void MemoryStore::complete_intakes() {
  std::vector<CommittedIntake> committed;
  std::vector<std::function<void()>> retries;
  {
    std::lock_guard committed_lock(committed_mutex_);
    committed.swap(committed_);
    retries.swap(after_commit_);
  }
  if (committed.empty() && retries.empty()) return;
  std::vector<domain::Result<IntakeOutcome>> outcomes;
  outcomes.reserve(committed.size());
  {
    std::lock_guard lock(mutex_);
    for (const auto& intake : committed) outcomes.push_back(complete_intake_locked(intake.order_id, intake.durable));
  }
  if (!committed.empty()) queue_cv_.notify_all();
  for (std::size_t i = 0; i < committed.size(); ++i) committed[i].done(std::move(outcomes[i]));
  for (auto& retry : retries) retry();
}

domain::Result<IntakeOutcome> MemoryStore::complete_intake_locked(const std::string& order_id, bool durable) {
  OrderEntry& entry = orders_.at(order_id);
  SaleEntry& sale = sales_.at(entry.order.sale_id);
  const auto status = entry.order.status;
  const bool entrant = status == OrderStatus::entered;
  if (entrant) sale.entering -= 1;
  if (!durable) {
    // Nothing was promised yet: give the units back as if the intake never happened.
    if (entrant) {
      drop_hold(sale, entry.order);
    } else {
      give_back(sale, entry.order);
      sale.skipped.insert(entry.order.seq);  // a number no order holds: not counted in positions
    }
    count_order(sale, entry.order, status, -1);
    orders_.erase(order_id);
    return unavailable;
  }
  entry.durable = true;
  if (!entrant) queue_.push_back(order_id);
  auto view = view_of(entry, domain::now_ms());
  publish(view);
  return IntakeOutcome{true, std::move(view)};
}

void MemoryStore::get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) {
  std::shared_lock lock(mutex_);
  const auto* found = orders_.find(order_id);
  if (!found || !found->durable || found->order.sale_id != sale_id) {
    lock.unlock();
    return done(domain::no_order_for_ticket());
  }
  auto view = view_of(*found, domain::now_ms());
  lock.unlock();
  done(std::move(view));
}

void MemoryStore::pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) {
  std::unique_lock lock(mutex_);
  auto* found = orders_.find(order_id);
  if (!found || !found->durable) {
    lock.unlock();
    return done(domain::refusal(ErrorCode::order_not_found));
  }
  OrderEntry& entry = *found;
  if (entry.transition_pending) {
    // A payment or cancellation of this order is being written: decide after it.
    lock.unlock();
    return journal_.barrier([this, order_id, payment_id, done = std::move(done)](bool) mutable {
      pay(order_id, payment_id, std::move(done));
    });
  }
  if (entry.order.status == OrderStatus::paid && entry.order.payment_id == payment_id) {
    auto view = view_of(entry, domain::now_ms());
    lock.unlock();
    return done(std::move(view));  // the provider repeating itself: nothing changes
  }
  if (entry.order.status != OrderStatus::confirmed) {
    lock.unlock();
    return done(domain::refusal(ErrorCode::order_not_payable));
  }
  domain::Order paid = entry.order;
  domain::apply_transition(paid, OrderStatus::paid, domain::now_ms());
  paid.payment_id = payment_id;
  entry.transition_pending = true;
  lock.unlock();
  journal_.record_order(paid, [this, paid, done = std::move(done)](bool durable) {
    complete_payment(paid.order_id, paid, durable, done);
  });
}

void MemoryStore::complete_payment(const std::string& order_id, const domain::Order& paid, bool durable,
                                   const Callback<OrderView>& done) {
  std::unique_lock lock(mutex_);
  OrderEntry& entry = orders_.at(order_id);
  entry.transition_pending = false;
  if (!durable) {
    lock.unlock();
    return done(unavailable);
  }
  const auto from = entry.order.status;
  entry.order = paid;
  const auto now = domain::now_ms();
  account(sales_.at(paid.sale_id), from, entry, now);
  auto view = view_of(entry, now);
  publish(view);
  lock.unlock();
  done(std::move(view));
}

void MemoryStore::stop_intake() {
  std::lock_guard lock(mutex_);
  intake_open_ = false;
}

void MemoryStore::on_change(ChangeListener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

std::optional<domain::Order> MemoryStore::claim(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (!queue_cv_.wait_for(lock, wait, [this] { return !queue_.empty(); })) return std::nullopt;
  const std::string order_id = std::move(queue_.front());
  queue_.pop_front();
  OrderEntry& entry = orders_.at(order_id);
  const auto now = domain::now_ms();
  if (!domain::apply_transition(entry.order, OrderStatus::processing, now)) return std::nullopt;
  account(sales_.at(entry.order.sale_id), OrderStatus::queued, entry, now);
  auto view = view_of(entry, now);
  publish(view);
  lock.unlock();
  // PROCESSING need not be durable before the work starts: after a crash the
  // order is simply queued again, and creating it is idempotent.
  journal_.record_order(view.order, {});
  return std::move(view.order);
}

bool MemoryStore::finish(const std::string& order_id, OrderStatus to, const std::string& reason,
                         const std::string& external_id) {
  std::unique_lock lock(mutex_);
  domain::Order next = orders_.at(order_id).order;
  if (next.status != OrderStatus::processing) return true;
  const auto now = domain::now_ms();
  domain::apply_transition(next, to, now, reason);
  next.external_id = external_id;
  lock.unlock();
  if (!record_and_wait(next)) return false;
  lock.lock();
  OrderEntry& entry = orders_.at(order_id);
  entry.order = next;
  account(sales_.at(next.sale_id), OrderStatus::processing, entry, now);
  if (to == OrderStatus::confirmed) {
    entry.confirmed_at = now;
    confirmed_.emplace_back(now, order_id);
  }
  auto view = view_of(entry, now);
  publish(view);
  lock.unlock();
  return true;
}

void MemoryStore::hand_back(const std::string& order_id) {
  std::unique_lock lock(mutex_);
  OrderEntry& entry = orders_.at(order_id);
  const auto now = domain::now_ms();
  if (!domain::apply_transition(entry.order, OrderStatus::queued, now)) return;
  SaleEntry& sale = sales_.at(entry.order.sale_id);
  count_order(sale, entry.order, OrderStatus::processing, -1);
  count_order(sale, entry.order, OrderStatus::queued, 1);
  sale.started -= 1;            // back in line: its next start counts again
  queue_.push_front(order_id);  // it was first in line before
  auto view = view_of(entry, now);
  publish(view);
  lock.unlock();
  journal_.record_order(view.order, {});
  queue_cv_.notify_one();
}

std::size_t MemoryStore::cancel_unpaid(domain::TimeMs confirmed_before) {
  std::vector<domain::Order> expiring;
  {
    std::lock_guard lock(mutex_);
    std::deque<std::pair<domain::TimeMs, std::string>> busy;
    while (!confirmed_.empty() && confirmed_.front().first < confirmed_before) {
      auto [at, order_id] = std::move(confirmed_.front());
      confirmed_.pop_front();
      // Paid orders stay listed until their time comes; one of a dropped sale is gone.
      OrderEntry* found = orders_.find(order_id);
      if (!found || found->order.status != OrderStatus::confirmed) continue;
      OrderEntry& entry = *found;
      if (entry.transition_pending) {
        busy.emplace_back(at, std::move(order_id));  // a payment is being written; look again later
        continue;
      }
      domain::Order next = entry.order;
      domain::apply_transition(next, OrderStatus::cancelled, domain::now_ms(), domain::payment_timeout_reason);
      entry.transition_pending = true;
      expiring.push_back(std::move(next));
    }
    confirmed_.insert(confirmed_.begin(), busy.begin(), busy.end());
  }
  std::size_t cancelled = 0;
  for (const auto& next : expiring) {
    const bool durable = record_and_wait(next);
    std::unique_lock lock(mutex_);
    OrderEntry& entry = orders_.at(next.order_id);
    entry.transition_pending = false;
    if (!durable) {
      confirmed_.emplace_front(entry.confirmed_at, next.order_id);
      continue;
    }
    entry.order = next;
    account(sales_.at(next.sale_id), OrderStatus::confirmed, entry, next.updated_at);
    publish(view_of(entry, next.updated_at));
    lock.unlock();
    ++cancelled;
  }
  return cancelled;
}

std::vector<std::pair<std::string, std::int64_t>> MemoryStore::remaining_by_sale() {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, std::int64_t>> out;
  out.reserve(sales_.size());
  for (const auto& [id, sale] : sales_) {
    out.emplace_back(id, sale.remaining);
    // A sale of several items: each item's too, under its item_stock_key.
    for (std::size_t i = 0; i < sale.items.size(); ++i)
      out.emplace_back(domain::item_stock_key(id, sale.sale.items[i].item_id), sale.items[i].remaining);
  }
  return out;
}

void MemoryStore::set_remaining_db(const std::string& key, std::int64_t remaining) {
  std::lock_guard lock(mutex_);
  set_remaining_db_locked(key, remaining);
}

void MemoryStore::set_remaining_db_locked(const std::string& key, std::int64_t remaining) {
  const auto item_key = domain::parse_item_stock_key(key);
  auto it = sales_.find(item_key ? std::string(item_key->sale_id) : key);
  if (it == sales_.end()) return;
  if (!item_key) it->second.remaining_db = remaining;
  else if (auto* item = item_entry(it->second, item_key->item_id)) item->remaining_db = remaining;
}

std::vector<domain::Sale> MemoryStore::sales() {
  std::shared_lock lock(mutex_);
  std::vector<domain::Sale> out;
  out.reserve(sales_.size());
  for (const auto& [id, sale] : sales_) out.push_back(sale.sale);
  return out;
}

std::vector<SaleView> MemoryStore::sale_views() {
  std::shared_lock lock(mutex_);
  std::vector<SaleView> out;
  out.reserve(sales_.size());
  for (const auto& [id, sale] : sales_) out.push_back(sale_view(sale));
  return out;
}

domain::Result<Empty> MemoryStore::drop_sale(const std::string& sale_id) {
  {
    std::lock_guard lock(mutex_);
    auto it = sales_.find(sale_id);
    if (it == sales_.end()) return Empty{};  // dropped before: nothing left to remove
    SaleEntry& sale = it->second;
    for (auto status : domain::all_statuses)
      if (!domain::is_final(status) && sale.counts[index_of(status)] > 0)
        return Error{ErrorCode::sale_active, "the sale has orders that are not final yet"};
    // Every order is final, and from here no intake makes a new one: what is
    // collected below is all of them.
    sale.dropping = true;
  }
  // Looked for under the shared lock, so polls go on meanwhile; erased in
  // batches, so an intake of another sale waits for one batch at most.
  std::vector<std::string> order_ids;
  {
    std::shared_lock lock(mutex_);
    orders_.for_each([&](std::string_view order_id, const OrderEntry& entry) {
      if (entry.order.sale_id == sale_id) order_ids.emplace_back(order_id);
    });
  }
  constexpr std::size_t batch = 4096;
  for (std::size_t from = 0; from < order_ids.size(); from += batch) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = from; i < std::min(order_ids.size(), from + batch); ++i) orders_.erase(order_ids[i]);
  }
  std::vector<SaleDroppedListener> listeners;
  {
    std::lock_guard lock(mutex_);
    sales_.erase(sale_id);
    orders_.shrink_sparse();
    // Paid orders stay listed for the payment timeout; the dropped ones' entries go now.
    std::deque<std::pair<domain::TimeMs, std::string>> confirmed;
    for (auto& entry : confirmed_)
      if (orders_.find(entry.second)) confirmed.push_back(std::move(entry));
    confirmed_.swap(confirmed);
    listeners = dropped_listeners_;
  }
  order_ids = {};
  // Freed order entries are small blocks all over the heap: without this the
  // allocator keeps their pages, and a year of sales would still count.
  platform::release_free_memory();
  for (const auto& listener : listeners) listener(sale_id);
  return Empty{};
}

void MemoryStore::on_sale_dropped(SaleDroppedListener listener) {
  std::lock_guard lock(mutex_);
  dropped_listeners_.push_back(std::move(listener));
}

std::uint64_t MemoryStore::queue_depth() {
  std::shared_lock lock(mutex_);
  return queue_.size();
}

std::size_t MemoryStore::run_due_draws(domain::TimeMs now) {
  std::vector<std::string> due;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [id, sale] : sales_)
      if (awaits_draw(sale) && !sale.dropping && now >= domain::draw_at(sale.sale, sale.sale.admission))
        due.push_back(id);
  }
  std::size_t drawn = 0;
  for (const auto& id : due)
    if (draw_sale(id, now)) ++drawn;
  return drawn;
}

bool MemoryStore::draw_sale(const std::string& sale_id, domain::TimeMs now) {
  using DrawState = SaleEntry::DrawState;
  const auto began = std::chrono::steady_clock::now();
  const auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  // 1. Close entry: from here every intake of the sale answers 503 until the result is applied.
  {
    std::lock_guard lock(mutex_);
    auto it = sales_.find(sale_id);
    if (it == sales_.end() || it->second.draw_state == DrawState::drawn) return false;
    it->second.draw_state = DrawState::frozen;
  }
  // 2. The entrants whose commit is under way are in the set or out of it
  //    once it ends; wait for it (a group commit: milliseconds). A journal
  //    that takes longer is retried at the next round, entry staying closed.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    {
      std::shared_lock lock(mutex_);
      auto it = sales_.find(sale_id);
      if (it == sales_.end()) return false;
      if (it->second.entering == 0) break;
    }
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // 3. The frozen set: every durable ENTERED order of the sale.
  std::vector<domain::DrawEntrant> entrants;
  std::vector<domain::Order> orders;
  std::optional<domain::DrawSeed> seed;
  std::int64_t stock = 0;
  {
    std::shared_lock lock(mutex_);
    const SaleEntry& sale = sales_.at(sale_id);
    for (const auto& id : sale.entrants) {
      const OrderEntry* entry = orders_.find(id);
      if (!entry || entry->order.status != OrderStatus::entered) continue;
      const auto& o = entry->order;
      entrants.push_back({o.order_id, o.user_id, o.quantity, o.created_at});
      orders.push_back(o);
    }
    seed = sale.draw_seed;
    stock = sale.remaining;  // entrants hold nothing: the whole stock unless a restart found it drawn in part
  }
  // 4. The seed, durable before anything of the result.
  if (!seed) {
    DrawRecord record{sale_id, domain::random_draw_seed(), now, entrants.size(), false};
    if (!wait_for([&](Journal::Done done) { journal_.record_draw_seed(record, std::move(done)); })) return false;
    seed = record.seed;
    std::lock_guard lock(mutex_);
    sales_.at(sale_id).draw_seed = seed;
  }
  const double seeded_ms = ms_since(began);
  // 5. The result, durable before anyone hears of it.
  const auto drawing_began = std::chrono::steady_clock::now();
  const auto result = domain::run_draw(entrants, stock, *seed);
  const double drawn_ms = ms_since(drawing_began);
  DrawResultRecord record{sale_id, domain::now_ms(), result.admitted, result.units_admitted, {}};
  record.entrants.reserve(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i) {
    domain::Order next = std::move(orders[i]);
    const auto position = result.position[i];
    domain::apply_transition(next, position ? OrderStatus::queued : OrderStatus::not_drawn, record.drawn_at);
    next.seq = position;
    record.entrants.push_back(std::move(next));
  }
  orders = {};
  const auto drawn_at = record.drawn_at;
  const auto writing_began = std::chrono::steady_clock::now();
  if (!wait_for([&](Journal::Done done) { journal_.record_draw_result(record, std::move(done)); })) return false;
  const double written_ms = ms_since(writing_began);
  const auto applying_began = std::chrono::steady_clock::now();
  // 6. Applied in memory, then told: the admitted in line in draw order, seq = position.
  std::vector<const std::string*> line(result.admitted, nullptr);
  {
    std::unique_lock lock(mutex_);
    SaleEntry& sale = sales_.at(sale_id);
    for (auto& next : record.entrants) {
      OrderEntry& entry = orders_.at(next.order_id);
      const auto quantity = static_cast<std::uint64_t>(next.quantity);
      sale.counts[index_of(OrderStatus::entered)] -= 1;
      sale.units[index_of(OrderStatus::entered)] -= quantity;
      sale.counts[index_of(next.status)] += 1;
      sale.units[index_of(next.status)] += quantity;
      if (next.status == OrderStatus::queued) sale.remaining -= next.quantity;
      else drop_hold(sale, next);
      entry.order = next;
      if (next.status == OrderStatus::queued) line[next.seq - 1] = &entry.order.order_id;
    }
    sale.seq = std::max<std::uint64_t>(sale.seq, result.admitted);
    sale.entrants = {};
    sale.draw_state = DrawState::drawn;
    for (const auto* id : line) queue_.push_back(*id);
    for (const auto& next : record.entrants) publish(view_of(orders_.at(next.order_id), drawn_at));
  }
  queue_cv_.notify_all();
  const auto entrant_count = entrants.size();
  record = {};
  entrants = {};
  // The draw's copies of every entrant are small blocks all over the heap (as in drop_sale).
  platform::release_free_memory();
  spdlog::info("draw of sale {}: {} entrants, {} drawn ({} units); frozen and seeded in {:.1f} ms, drawn in {:.1f} ms, "
               "result written in {:.1f} ms, applied and told in {:.1f} ms",
               sale_id, entrant_count, result.admitted, result.units_admitted, seeded_ms, drawn_ms, written_ms,
               ms_since(applying_began));
  return true;
}

void MemoryStore::record_service_time(std::int64_t ms) {
  std::lock_guard lock(mutex_);
  service_time_ms_ = service_time_ms_ == 0.0 ? static_cast<double>(ms) : 0.9 * service_time_ms_ + 0.1 * ms;
}

}  // namespace flashgate::store
