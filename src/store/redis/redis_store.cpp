#include "store/redis/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <unistd.h>

#include "domain/ids.hpp"
#include "domain/queue_hint.hpp"
#include "store/redis/scripts.hpp"
#include "platform/thread_name.hpp"

namespace flashgate::store::redis {

using domain::Error;
using domain::ErrorCode;
using domain::OrderStatus;

namespace {

constexpr const char* group = "windows";
constexpr const char* mirror_group = "mirror";
constexpr const char* tags_key = "fg:tags";
constexpr const char* sales_key = "fg:sales";
constexpr const char* dropping_key = "fg:dropping";  // archived sales whose keys are being removed
constexpr const char* dropped_key = "fg:dropped";    // stream: sales removed, for every process to forget
// Keys and entries removed per step of drop_sale: each step is one short script.
constexpr const char* drop_batch = "1000";

std::string prefix(std::string_view tag) { return "fg:{" + std::string(tag) + "}:"; }
std::string sale_key(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "sale:" + sale_id; }
std::string users_key(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "users:" + sale_id; }
std::string held_key(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "held:" + sale_id; }
std::string order_key(const std::string& order_id) {
  return prefix(domain::tag_of_order(order_id)) + "order:" + order_id;
}
std::string queue_key(std::string_view tag) { return prefix(tag) + "queue"; }
std::string changes_key(std::string_view tag) { return prefix(tag) + "changes"; }
std::string confirmed_key(std::string_view tag) { return prefix(tag) + "confirmed"; }
std::string outcomes_key(std::string_view tag) { return prefix(tag) + "outcomes"; }
std::string now_text() { return std::to_string(domain::now_ms()); }

std::int64_t to_int(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<std::int64_t> to_optional(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return to_int(text);
}

std::uint64_t next_instance() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

const Error unreachable{ErrorCode::unavailable, "the order store is unreachable; try again shortly"};

// Script replies are {outcome, field, value, ...}: the order's hash and the sale's progress.
struct Parsed {
  domain::Order order;
  SaleProgress progress;
  std::optional<std::int64_t> remaining;  // the sale's, after the change
};

Parsed parse_order(const std::vector<Reply>& items, std::size_t from) {
  Parsed p;
  for (std::size_t i = from; i + 1 < items.size(); i += 2) {
    const std::string& key = items[i].str;
    const std::string& value = items[i + 1].str;
    if (key == "order_id") p.order.order_id = value;
    else if (key == "sale_id") p.order.sale_id = value;
    else if (key == "user_id") p.order.user_id = value;
    else if (key == "seq") p.order.seq = static_cast<std::uint64_t>(to_int(value));
    else if (key == "status") p.order.status = domain::parse_status(value).value_or(OrderStatus::queued);
    else if (key == "version") p.order.version = static_cast<std::uint64_t>(to_int(value));
    else if (key == "reason") p.order.reason = value;
    else if (key == "payment_id") p.order.payment_id = value;
    else if (key == "external_id") p.order.external_id = value;
    else if (key == "quantity") p.order.quantity = to_int(value);
    else if (key == "request_id") p.order.request_id = value;
    else if (key == "created_at") p.order.created_at = to_int(value);
    else if (key == "updated_at") p.order.updated_at = to_int(value);
    else if (key == "started") p.progress.started = static_cast<std::uint64_t>(to_int(value));
    else if (key == "rate") p.progress.rate = std::strtod(value.c_str(), nullptr);
    else if (key == "rate_at") p.progress.rate_at = to_int(value);
    else if (key == "rate_since") p.progress.rate_since = to_int(value);
    else if (key == "remaining") p.remaining = to_int(value);
  }
  return p;
}

// A stream entry id "ms-seq", comparable; {0, 0} for "0-0" and for anything unreadable.
std::pair<std::uint64_t, std::uint64_t> entry_order(std::string_view id) {
  std::pair<std::uint64_t, std::uint64_t> order{0, 0};
  const auto dash = id.find('-');
  if (dash == std::string_view::npos) return order;
  std::from_chars(id.data(), id.data() + dash, order.first);
  std::from_chars(id.data() + dash + 1, id.data() + id.size(), order.second);
  return order;
}

const std::string& outcome_of(const Reply& reply) {
  static const std::string none;
  return reply.type == Reply::Type::array && !reply.elements.empty() ? reply.elements[0].str : none;
}

std::map<std::string, std::string> as_map(const Reply& reply) {
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) fields[reply.elements[i].str] = reply.elements[i + 1].str;
  return fields;
}

std::optional<SaleView> parse_sale(const Reply& reply) {
  if (reply.type != Reply::Type::array || reply.elements.empty()) return std::nullopt;
  auto f = as_map(reply);
  SaleView view;
  view.sale = domain::Sale{f["sale_id"], f["item"], to_int(f["stock"]), to_optional(f["starts_at"]),
                           to_optional(f["ends_at"]), to_int(f["created_at"])};
  if (auto limit = to_optional(f["max_per_buyer"])) view.sale.max_per_buyer = *limit;
  view.remaining = to_int(f["remaining"]);
  view.remaining_db = to_optional(f["remaining_db"]);
  for (auto status : domain::all_statuses) {
    const auto i = static_cast<std::size_t>(status);
    view.counts[i] = static_cast<std::uint64_t>(to_int(f["c:" + std::string(domain::to_string(status))]));
    // x:<STATUS> holds only the units beyond one per order (see scripts::intake).
    view.units[i] = view.counts[i] + static_cast<std::uint64_t>(to_int(f["x:" + std::string(domain::to_string(status))]));
  }
  view.queue_depth = view.counts[static_cast<std::size_t>(OrderStatus::queued)];
  return view;
}

Error error_of(const Reply& reply) {
  // The server cannot take writes now, and the command did not run: LOADING
  // (replaying its AOF after a restart), OOM (full), MISCONF (cannot persist),
  // READONLY (a replica after a failover).
  for (const char* refusal : {"LOADING", "OOM", "MISCONF", "READONLY"})
    if (reply.str.rfind(refusal, 0) == 0) return unreachable;
  if (reply.connection_failed()) return unreachable;
  spdlog::error("redis: {}", describe(reply));
  return Error{ErrorCode::internal, "internal error"};
}

}  // namespace

RedisStore::RedisStore(RedisStoreOptions options)
    : options_(std::move(options)),
      instance_(next_instance()),
      client_(RedisOptions{options_.host, options_.port, options_.connections}),
      cache_(options_.near_cache_orders) {
  if (options_.consumer_prefix.empty()) {
    char host[128] = "host";
    ::gethostname(host, sizeof host - 1);
    options_.consumer_prefix = std::string(host) + "-" + std::to_string(::getpid());
  }
  if (!client_.wait_connected(std::chrono::seconds(5)))
    spdlog::warn("redis {}:{} not reachable yet; retrying in the background", options_.host, options_.port);
}

RedisStore::~RedisStore() { stop(); }

// The feed thread calls listeners and fills the near-cache and the sold-out
// book; the client's thread runs callbacks that do the same. Both are joined
// here, before any member they touch is destroyed (members go in reverse
// order of declaration, and the client is declared before the cache).
void RedisStore::stop() {
  stopping_ = true;
  if (tail_connection_) tail_connection_->shutdown();
  if (outcome_connection_) outcome_connection_->shutdown();
  if (tail_.joinable()) tail_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& connection : window_connections_) connection->shutdown();
  }
  client_.stop();
}

OrderView RedisStore::view_of(const domain::Order& order, const SaleProgress& progress) const {
  OrderView view{order, 0, 0, std::nullopt};
  const auto now = domain::now_ms();
  const double rate = domain::measured_rate(progress.rate, progress.rate_at, progress.rate_since, now);
  if (order.status == OrderStatus::queued) {
    view.position = domain::queue_position(order.seq, progress.started);
    view.estimated_wait_ms = domain::estimated_wait_ms(view.position, rate);
  }
  view.poll_after_ms = domain::poll_after_ms(order.status, view.position, rate, service_time_ms_.load());
  return view;
}

OrderView RedisStore::remember(const Reply& reply) {
  auto parsed = parse_order(reply.elements, 1);
  cache_.update(parsed.order, parsed.progress);
  return view_of(parsed.order, cache_.progress(parsed.order.sale_id));
}

std::vector<std::string> RedisStore::tags() {
  const auto now = std::chrono::steady_clock::now();
  bool refresh;
  {
    std::lock_guard lock(mutex_);
    refresh = now - tags_checked_ > std::chrono::seconds(1);
    if (refresh) tags_checked_ = now;
  }
  if (refresh) {
    auto reply = client_.command_sync({"SMEMBERS", tags_key});
    // A tag whose sales were all archived is gone from fg:tags: this process
    // stops reading its streams (and making their groups) too.
    if (reply.ok()) {
      std::set<std::string> known;
      for (const auto& tag : reply.elements) known.insert(tag.str);
      std::lock_guard lock(mutex_);
      tags_ = std::move(known);
      std::erase_if(grouped_, [this](const std::string& tag) { return !tags_.contains(tag); });
    }
  }
  std::lock_guard lock(mutex_);
  return {tags_.begin(), tags_.end()};
}

bool RedisStore::ensure_group(const std::string& tag) {
  {
    std::lock_guard lock(mutex_);
    if (grouped_.contains(tag)) return true;
  }
  // From "0": an outcome logged before its group existed is read all the same.
  const auto reply = client_.eval_sync(scripts::ensure_groups(), {tags_key, queue_key(tag), outcomes_key(tag)},
                                       {tag, group, mirror_group});
  const bool made = reply.type == Reply::Type::integer && reply.integer == 1;
  if (made) {
    std::lock_guard lock(mutex_);
    grouped_.insert(tag);
  }
  return made;
}

void RedisStore::create_sale(const domain::Sale& sale, Callback<SaleView> done) {
  const std::string tag = domain::sale_tag(sale.sale_id);
  // The queue's consumer group first, so that no order can be queued where no window looks.
  client_.command({"XGROUP", "CREATE", queue_key(tag), group, "0", "MKSTREAM"}, [this, sale, tag, done](Reply) {
    client_.eval(scripts::create_sale(), {sale_key(sale.sale_id)},
                 {sale.sale_id, sale.item, std::to_string(sale.stock),
                  sale.starts_at ? std::to_string(*sale.starts_at) : "",
                  sale.ends_at ? std::to_string(*sale.ends_at) : "", std::to_string(sale.created_at),
                  std::to_string(sale.max_per_buyer)},
                 [this, sale, tag, done](Reply created) {
                   if (!created.ok()) return done(error_of(created));
                   if (created.integer == 0) return done(domain::refusal(ErrorCode::sale_exists));
                   client_.command({"SADD", tags_key, tag}, [](Reply) {});
                   client_.command({"SADD", sales_key, sale.sale_id}, [this, sale, done](Reply) {
                     get_sale(sale.sale_id, done);
                   });
                 });
  });
}

void RedisStore::get_sale(const std::string& sale_id, Callback<SaleView> done) {
  client_.command({"HGETALL", sale_key(sale_id)}, [done](Reply reply) {
    if (!reply.ok()) return done(error_of(reply));
    auto view = parse_sale(reply);
    if (!view) return done(domain::refusal(ErrorCode::sale_not_found));
    done(std::move(*view));
  });
}

void RedisStore::intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) {
  if (!intake_open_) return done(domain::refusal(ErrorCode::shutting_down));
  switch (sold_out_.answer(sale_id, request.user_id, request.request_id, request.quantity, domain::now_ms())) {
    case SoldOutBook::Answer::ask_redis: break;
    case SoldOutBook::Answer::sold_out: return done(domain::refusal(ErrorCode::sold_out));
    case SoldOutBook::Answer::sale_ended: return done(domain::refusal(ErrorCode::sale_ended));
    case SoldOutBook::Answer::sale_not_open: return done(domain::refusal(ErrorCode::sale_not_open));
  }
  const std::string tag = domain::sale_tag(sale_id);
  client_.eval(scripts::intake(),
               {sale_key(sale_id), users_key(sale_id), queue_key(tag), changes_key(tag), held_key(sale_id)},
               {prefix(tag), sale_id, request.user_id, domain::new_tagged_order_id(sale_id), now_text(),
                std::to_string(request.quantity), request.request_id},
               [this, sale_id, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 const auto& outcome = outcome_of(reply);
                 if (outcome == "accepted" || outcome == "existing")
                   return done(IntakeOutcome{outcome == "accepted", remember(reply)});
                 if (auto refused = domain::refusal_named(outcome)) {
                   // Sold out: the next buyers can be answered here.
                   if (refused->code == ErrorCode::sold_out) sold_out_.want(sale_id);
                   if (refused->code == ErrorCode::not_enough_stock && reply.elements.size() > 1)
                     refused->remaining = to_int(reply.elements[1].str);
                   return done(std::move(*refused));
                 }
                 done(error_of(Reply::error("unexpected intake reply " + describe(reply))));
               });
}

void RedisStore::get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) {
  const Error not_found = domain::no_order_for_ticket();
  if (domain::tag_of_order(order_id).empty()) return done(not_found);
  if (auto cached = cache_.find(order_id)) {
    if (cached->sale_id != sale_id) return done(not_found);
    return done(view_of(*cached, cache_.progress(sale_id)));
  }
  client_.eval(scripts::read_order(), {order_key(order_id)}, {prefix(domain::tag_of_order(order_id))},
               [this, sale_id, not_found, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 if (outcome_of(reply) != "found") return done(not_found);
                 auto view = remember(reply);
                 if (view.order.sale_id != sale_id) return done(not_found);
                 done(std::move(view));
               });
}

void RedisStore::pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) {
  const auto tag = domain::tag_of_order(order_id);
  if (tag.empty()) return done(domain::refusal(ErrorCode::order_not_found));
  client_.eval(scripts::pay(), {order_key(order_id), changes_key(tag), confirmed_key(tag), outcomes_key(tag)},
               {prefix(tag), payment_id, now_text()}, [this, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 const auto& outcome = outcome_of(reply);
                 if (outcome == "ok") return done(remember(reply));
                 if (auto refused = domain::refusal_named(outcome)) return done(std::move(*refused));
                 done(error_of(Reply::error("unexpected pay reply " + describe(reply))));
               });
}

std::vector<SaleView> RedisStore::sale_views() {
  // Also the sales being removed: an archive cut short (a worker killed) is
  // found here and finished.
  std::vector<SaleView> views;
  std::set<std::string> ids;
  for (const char* set : {sales_key, dropping_key})
    for (const auto& id : client_.command_sync({"SMEMBERS", set}).elements) ids.insert(id.str);
  for (const auto& id : ids)
    if (auto view = parse_sale(client_.command_sync({"HGETALL", sale_key(id)}))) views.push_back(std::move(*view));
  return views;
}

std::optional<bool> RedisStore::tag_shared(const std::string& sale_id, const std::string& tag) {
  for (const char* set : {sales_key, dropping_key}) {
    auto ids = client_.command_sync({"SMEMBERS", set});
    if (!ids.ok()) return std::nullopt;
    for (const auto& id : ids.elements)
      if (id.str != sale_id && domain::sale_tag(id.str) == tag) return true;
  }
  return false;
}

domain::Result<Empty> RedisStore::drop_sale(const std::string& sale_id) {
  const std::string tag = domain::sale_tag(sale_id);
  const auto begun = client_.eval_sync(scripts::begin_drop(), {sale_key(sale_id), sales_key, dropping_key, dropped_key},
                                          {sale_id});
  if (!begun.ok()) return error_of(begun);
  const auto& outcome = outcome_of(begun);
  if (outcome == "sale_active")
    return Error{ErrorCode::sale_active, "the sale has orders that are not final (" +
                                             (begun.elements.size() > 1 ? begun.elements[1].str : std::string()) + ")"};
  if (outcome == "gone") {
    forget_sale(sale_id);
    return Empty{};
  }
  spdlog::info("redis: removing the keys of archived sale {}", sale_id);
  const auto shared = tag_shared(sale_id, tag);
  if (!shared) return unreachable;
  // Holders first: an intake of a holder would otherwise read an order hash
  // already removed. Then, with the tag shared, the sale's entries in the
  // tag's streams, while the order hashes still say whose a queue entry is.
  auto holders = client_.command_sync({"UNLINK", users_key(sale_id), held_key(sale_id)});
  if (!holders.ok()) return error_of(holders);
  if (*shared) {
    for (const auto& [stream, group_name] : {std::pair{queue_key(tag), group}, std::pair{outcomes_key(tag), mirror_group},
                                             std::pair{changes_key(tag), ""}}) {
      std::string after;
      do {
        auto step = client_.eval_sync(scripts::drop_stream_entries(), {stream},
                                      {sale_id, prefix(tag), group_name, after, drop_batch});
        if (!step.ok() || step.elements.size() < 2) return error_of(step);
        after = step.elements[0].str;
      } while (!after.empty());
    }
  }
  // Order hashes are found by their key's prefix; SCAN goes over the whole
  // keyspace in steps, and a key of another sale is only read, never removed.
  std::string cursor = "0";
  do {
    auto page = client_.command_sync({"SCAN", cursor, "MATCH", prefix(tag) + "order:*", "COUNT", drop_batch});
    if (!page.ok() || page.elements.size() < 2) return error_of(page);
    cursor = page.elements[0].str;
    std::vector<std::string> keys{confirmed_key(tag)};
    for (const auto& key : page.elements[1].elements) keys.push_back(key.str);
    if (keys.size() == 1) continue;
    auto removed = client_.eval_sync(scripts::drop_orders(), std::move(keys), {sale_id});
    if (!removed.ok()) return error_of(removed);
  } while (cursor != "0");
  if (!*shared) {
    auto dropped = client_.eval_sync(scripts::drop_tag(), {tags_key, queue_key(tag), changes_key(tag),
                                                           outcomes_key(tag), confirmed_key(tag)}, {tag});
    if (!dropped.ok()) return error_of(dropped);
  }
  auto finished = client_.eval_sync(scripts::finish_drop(), {sale_key(sale_id), dropping_key, dropped_key}, {sale_id});
  if (!finished.ok()) return error_of(finished);
  forget_sale(sale_id);
  return Empty{};
}

void RedisStore::forget_sale(const std::string& sale_id) {
  cache_.forget_sale(sale_id);
  sold_out_.forget(sale_id);
  std::vector<SaleDroppedListener> listeners;
  {
    std::lock_guard lock(mutex_);
    listeners = dropped_listeners_;
  }
  for (const auto& listener : listeners) listener(sale_id);
}

void RedisStore::on_sale_dropped(SaleDroppedListener listener) {
  std::lock_guard lock(mutex_);
  dropped_listeners_.push_back(std::move(listener));
}

void RedisStore::on_change(ChangeListener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

RedisStore::Window& RedisStore::this_window() {
  // One blocking connection per window thread: XREADGROUP BLOCK must not
  // stall the shared ones. Kept per thread and per store: a store's address
  // may be reused by the next one, its instance number is not. A thread that
  // serves two stores keeps a window of each.
  thread_local std::map<std::uint64_t, Window> windows;
  Window& window = windows[instance_];
  if (!window.connection) {
    std::lock_guard lock(mutex_);
    window_connections_.push_back(std::make_unique<BlockingRedis>(options_.host, options_.port));
    window.connection = window_connections_.back().get();
    window.consumer = options_.consumer_prefix + "-w" + std::to_string(next_window_.fetch_add(1));
  }
  return window;
}

void RedisStore::hold(const Window& window, const QueueEntry& entry) {
  std::lock_guard lock(held_mutex_);
  held_[{entry.stream, entry.entry_id}] = window.consumer;
}

void RedisStore::let_go(const QueueEntry& entry) {
  std::lock_guard lock(held_mutex_);
  held_.erase({entry.stream, entry.entry_id});
}

void RedisStore::keep_held() {
  // Only what the windows hold now: an entry a window let go of (a claim
  // whose answer was lost, a hand-back that failed) ages and is reclaimed.
  std::map<std::string, std::vector<std::string>> by_queue;  // queue -> group, consumer, id, consumer, id...
  {
    std::lock_guard lock(held_mutex_);
    for (const auto& [entry, consumer] : held_) {
      auto& args = by_queue[entry.first];
      if (args.empty()) args.emplace_back(group);
      args.push_back(consumer);
      args.push_back(entry.second);
    }
  }
  for (auto& [queue, args] : by_queue) {
    auto reply = client_.eval_sync(scripts::keep_entries(), {queue}, std::move(args));
    if (!reply.ok()) spdlog::warn("queue {}: the entries this worker's windows hold not renewed: {}", queue, describe(reply));
  }
}

Reply RedisStore::read_new(BlockingRedis& connection, const char* group_name, const std::string& consumer,
                           std::size_t count, std::chrono::milliseconds wait, const std::vector<std::string>& streams) {
  std::vector<std::string> args{"XREADGROUP", "GROUP", group_name, consumer, "COUNT", std::to_string(count),
                                "BLOCK",      std::to_string(wait.count()), "STREAMS"};
  args.insert(args.end(), streams.begin(), streams.end());
  args.insert(args.end(), streams.size(), ">");
  auto reply = connection.command(args, wait + std::chrono::seconds(2));
  if (reply.ok()) return reply;
  if (reply.str.rfind("NOGROUP", 0) == 0) {
    std::lock_guard lock(mutex_);
    grouped_.clear();  // the server lost its groups (a restart without them): make them again
  }
  if (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return {};
}

Reply RedisStore::claim_idle(const std::string& stream, const char* group_name, const std::string& consumer) {
  auto reply = client_.command_sync({"XAUTOCLAIM", stream, group_name, consumer,
                                     std::to_string(options_.reclaim_after.count()), "0-0", "COUNT", "100"});
  if (!reply.ok() || reply.elements.size() < 2) return {};
  return std::move(reply.elements[1]);
}

std::chrono::milliseconds RedisStore::reclaim_period() const {
  return std::clamp(options_.reclaim_after / 4, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
}

std::optional<domain::Order> RedisStore::claim(std::chrono::milliseconds wait) {
  auto& window = this_window();
  auto& backlog = window.backlog;
  // COUNT applies per stream: one read may hand this window an entry of
  // every sale's queue. They are its own now (pending under its name, renewed
  // by keep_held()), so it keeps them and takes them one per claim, first
  // come first.
  if (backlog.empty()) {
    std::vector<std::string> streams;
    for (const auto& tag : tags())
      if (ensure_group(tag)) streams.push_back(queue_key(tag));  // one without its group would fail the read
    if (streams.empty()) {
      std::this_thread::sleep_for(wait);
      return std::nullopt;
    }
    for (const auto& stream : read_new(*window.connection, group, window.consumer, 1, wait, streams).elements) {
      if (stream.elements.size() < 2) continue;
      for (const auto& entry : stream.elements[1].elements)
        if (entry.elements.size() >= 2) {
          backlog.push_back(QueueEntry{stream.elements[0].str, entry.elements[0].str, entry.elements[1]});
          hold(window, backlog.back());
        }
    }
    if (backlog.empty()) return std::nullopt;
  }
  const auto fields = as_map(backlog.front().fields);
  const auto order_id = fields.count("order_id") ? fields.at("order_id") : std::string();
  const auto tag = domain::tag_of_order(order_id);
  Reply claimed;
  if (!tag.empty())
    claimed = client_.eval_sync(scripts::claim(), {order_key(order_id), changes_key(tag), backlog.front().stream},
                                {prefix(tag), now_text(), group, window.consumer, backlog.front().entry_id});
  const auto& outcome = outcome_of(claimed);
  const bool group_lost = claimed.str.rfind("NOGROUP", 0) == 0;  // and with it whose the entry was
  if (!tag.empty() && !claimed.connection_failed() && !group_lost && outcome != "claimed" && outcome != "skip" &&
      outcome != "stale") {
    // Refused and not run (OOM under maxmemory, BUSY, LOADING...): the
    // entry is the only reference to a QUEUED order, so it stays first in
    // line and this window tries it again after a pause.
    if (window.refusals++ % 100 == 0)
      spdlog::warn("window {}: claim of order {} refused ({} times), trying again: {}", window.consumer, order_id,
                   window.refusals, describe(claimed));
    std::this_thread::sleep_for(wait);
    return std::nullopt;
  }
  window.refusals = 0;
  QueueEntry entry = std::move(backlog.front());
  backlog.pop_front();
  if (outcome == "claimed") {
    window.claimed[order_id] = std::move(entry);  // still held
    return remember(claimed).order;
  }
  let_go(entry);
  if (group_lost) {
    std::lock_guard lock(mutex_);
    grouped_.clear();
  }
  // The answer was lost (the claim may have run), the entry is another
  // worker's now (taken back from this one), or the group is gone: the entry
  // is not this window's to touch. If still pending, it is reclaimed.
  if (claimed.connection_failed() || group_lost || outcome == "stale") return std::nullopt;
  // skip: finished or in hand already (or not an order): nothing to do.
  client_.eval_sync(scripts::drop_entry(), {entry.stream}, {group, entry.entry_id});
  return std::nullopt;
}

void RedisStore::ack(Window& window, const std::string& order_id) {
  auto it = window.claimed.find(order_id);
  if (it == window.claimed.end()) return;
  client_.eval_sync(scripts::drop_entry(), {it->second.stream}, {group, it->second.entry_id});
  release(window, order_id);  // if the drop failed, the entry is reclaimed and found finished
}

void RedisStore::release(Window& window, const std::string& order_id) {
  auto it = window.claimed.find(order_id);
  if (it == window.claimed.end()) return;
  let_go(it->second);
  window.claimed.erase(it);
}

bool RedisStore::finish(const std::string& order_id, OrderStatus to, const std::string& reason,
                        const std::string& external_id) {
  const auto tag = domain::tag_of_order(order_id);
  auto reply = client_.eval_sync(scripts::finish(), {order_key(order_id), changes_key(tag), confirmed_key(tag), outcomes_key(tag)},
                                 {prefix(tag), std::string(domain::to_string(to)), reason, now_text(), external_id});
  if (!reply.ok()) return false;  // the window tries again, still holding the entry
  if (outcome_of(reply) == "done") remember(reply);
  ack(this_window(), order_id);
  return true;
}

void RedisStore::hand_back(const std::string& order_id) {
  const auto tag = domain::tag_of_order(order_id);
  auto reply = client_.eval_sync(scripts::hand_back(), {order_key(order_id), changes_key(tag), queue_key(tag)},
                                 {prefix(tag), now_text()});
  if (reply.ok()) ack(this_window(), order_id);
  else release(this_window(), order_id);  // still pending: no longer renewed, so reclaimed after reclaim_after
}

std::size_t RedisStore::reclaim_abandoned() {
  keep_held();  // first: this process's own entries are never idle when it looks
  std::size_t reclaimed = 0;
  for (const auto& tag : tags()) {
    if (!ensure_group(tag)) continue;
    for (const auto& entry : claim_idle(queue_key(tag), group, options_.consumer_prefix + "-reclaimer").elements) {
      if (entry.elements.size() < 2) continue;
      const auto fields = as_map(entry.elements[1]);
      const auto it = fields.find("order_id");
      if (it != fields.end() && !domain::tag_of_order(it->second).empty()) {
        auto back = client_.eval_sync(scripts::hand_back(), {order_key(it->second), changes_key(tag), queue_key(tag)},
                                      {prefix(tag), now_text()});
        if (!back.ok()) continue;  // try again next round
      }
      client_.eval_sync(scripts::drop_entry(), {queue_key(tag)}, {group, entry.elements[0].str});
      ++reclaimed;
    }
  }
  return reclaimed;
}

std::vector<OutcomeLog::Entry> RedisStore::take(std::chrono::milliseconds wait) {
  const std::string consumer = options_.consumer_prefix + "-mirror";
  const auto known = tags();
  if (known.empty()) {
    std::this_thread::sleep_for(wait);
    return {};
  }
  for (const auto& tag : known) ensure_group(tag);
  std::vector<OutcomeLog::Entry> taken;
  // First what a dead worker took and never recorded (pending in the group,
  // idle past reclaim_after), at the pace the queue's entries are reclaimed.
  const auto now = std::chrono::steady_clock::now();
  if (now - outcomes_reclaimed_ >= reclaim_period()) {
    outcomes_reclaimed_ = now;
    for (const auto& tag : known)
      add_outcomes(outcomes_key(tag), claim_idle(outcomes_key(tag), mirror_group, consumer), taken);
    if (!taken.empty()) return taken;
  }
  if (!outcome_connection_) outcome_connection_ = std::make_unique<BlockingRedis>(options_.host, options_.port);
  std::vector<std::string> streams;
  for (const auto& tag : known) streams.push_back(outcomes_key(tag));
  for (const auto& stream : read_new(*outcome_connection_, mirror_group, consumer, 100, wait, streams).elements)
    if (stream.elements.size() >= 2) add_outcomes(stream.elements[0].str, stream.elements[1], taken);
  return taken;
}

void RedisStore::add_outcomes(const std::string& stream, const Reply& entries, std::vector<OutcomeLog::Entry>& to) {
  for (const auto& entry : entries.elements) {
    if (entry.elements.empty()) continue;
    const std::string& id = entry.elements[0].str;
    auto order = entry.elements.size() >= 2 ? parse_order(entry.elements[1].elements, 0).order : domain::Order{};
    if (order.order_id.empty() || !domain::is_final(order.status)) {
      // Not an outcome (deleted meanwhile, or not written by the scripts): nothing to record.
      client_.eval_sync(scripts::drop_entry(), {stream}, {mirror_group, id});
      continue;
    }
    to.push_back(OutcomeLog::Entry{stream, id, std::move(order)});
  }
}

void RedisStore::recorded(const OutcomeLog::Entry& entry) {
  // If this fails the entry stays pending and is handed out again: written twice, which is harmless.
  client_.eval_sync(scripts::drop_entry(), {entry.stream}, {mirror_group, entry.id});
}

std::uint64_t RedisStore::outcome_backlog() {
  std::uint64_t waiting = 0;
  for (const auto& tag : tags()) {
    auto length = client_.command_sync({"XLEN", outcomes_key(tag)}, std::chrono::milliseconds(500));
    if (length.type == Reply::Type::integer) waiting += static_cast<std::uint64_t>(length.integer);
  }
  return waiting;
}

std::size_t RedisStore::cancel_unpaid(domain::TimeMs confirmed_before) {
  std::size_t cancelled = 0;
  std::string below = "(";  // exclusive bound (built in two steps: GCC 12 warns falsely on "(" + string)
  below += std::to_string(confirmed_before);
  for (const auto& tag : tags()) {
    auto due = client_.command_sync({"ZRANGEBYSCORE", confirmed_key(tag), "-inf", below, "LIMIT", "0", "1000"});
    for (const auto& order : due.elements) {
      auto reply = client_.eval_sync(scripts::cancel_unpaid(),
                                     {order_key(order.str), changes_key(tag), confirmed_key(tag), outcomes_key(tag)},
                                     {prefix(tag), now_text(), std::to_string(confirmed_before)});
      if (outcome_of(reply) == "cancelled") ++cancelled;
    }
  }
  return cancelled;
}

std::vector<domain::Sale> RedisStore::sales() {
  std::vector<domain::Sale> all;
  auto ids = client_.command_sync({"SMEMBERS", sales_key});
  for (const auto& id : ids.elements)
    if (auto view = parse_sale(client_.command_sync({"HGETALL", sale_key(id.str)}))) all.push_back(view->sale);
  return all;
}


std::vector<std::pair<std::string, std::int64_t>> RedisStore::remaining_by_sale() {
  std::vector<std::pair<std::string, std::int64_t>> out;
  auto ids = client_.command_sync({"SMEMBERS", sales_key});
  for (const auto& id : ids.elements) {
    auto remaining = client_.command_sync({"HGET", sale_key(id.str), "remaining"});
    if (remaining.type == Reply::Type::string) out.emplace_back(id.str, to_int(remaining.str));
  }
  return out;
}

void RedisStore::set_remaining_db(const std::string& sale_id, std::int64_t remaining) {
  client_.eval(scripts::set_remaining_db(), {sale_key(sale_id)}, {std::to_string(remaining)}, [](Reply) {});
}

std::uint64_t RedisStore::queue_depth() {
  std::uint64_t depth = 0;
  auto ids = client_.command_sync({"SMEMBERS", sales_key}, std::chrono::milliseconds(500));
  for (const auto& id : ids.elements) {
    const auto counter = "c:" + std::string(domain::to_string(OrderStatus::queued));
    auto queued = client_.command_sync({"HGET", sale_key(id.str), counter}, std::chrono::milliseconds(500));
    if (queued.type == Reply::Type::string) depth += static_cast<std::uint64_t>(to_int(queued.str));
  }
  return depth;
}

void RedisStore::follow_changes() {
  tail_connection_ = std::make_unique<BlockingRedis>(options_.host, options_.port);
  tail_ = std::thread([this] {
    platform::name_this_thread("fg-redis-feed");
    tail_loop();
  });
}

void RedisStore::tail_loop() {
  // Last id read per stream: after a lost connection the feed goes on from
  // there, so no change is missed. Streams known at start begin at their
  // end; a sale created later is read from its beginning.
  // fg:dropped is read with them: the sales other processes archived.
  std::map<std::string, std::string> last;
  bool first = true;
  std::chrono::steady_clock::time_point gaps_checked{};
  while (!stopping_) {
    std::set<std::string> wanted{dropped_key};
    for (const auto& tag : tags()) wanted.insert(changes_key(tag));
    // A tag whose sales were all archived is no longer tailed.
    std::erase_if(last, [&wanted](const auto& entry) { return !wanted.contains(entry.first); });
    for (const auto& key : wanted) {
      if (last.contains(key)) continue;
      std::string from = "0-0";
      if (first) {
        auto newest = tail_connection_->command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
        if (!newest.elements.empty()) from = newest.elements[0].elements.at(0).str;
      }
      last[key] = from;
    }
    first = false;
    // Checked before reading on, once a second: after a stall of a second or
    // more (the least in which Redis could write 100,000 changes of a sale)
    // the next read would carry the position past the gap unnoticed.
    // Unknown (Redis unreachable): nothing is read.
    if (const auto now = std::chrono::steady_clock::now(); now - gaps_checked >= std::chrono::seconds(1)) {
      if (!check_lost_changes(last)) {
        if (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      gaps_checked = now;
    }
    for (const auto& sale_id : sold_out_.take_wanted()) follow_sold_out(sale_id);
    if (last.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    std::vector<std::string> args{"XREAD", "COUNT", "1000", "BLOCK", "500", "STREAMS"};
    for (const auto& entry : last) args.push_back(entry.first);
    for (const auto& entry : last) args.push_back(entry.second);
    auto reply = tail_connection_->command(args, std::chrono::seconds(3));
    if (!reply.ok()) {
      if (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (const auto& stream : reply.elements) {
      if (stream.elements.size() < 2) continue;
      const bool dropped = stream.elements[0].str == dropped_key;
      auto& position = last[stream.elements[0].str];
      for (const auto& entry : stream.elements[1].elements) {
        if (entry.elements.size() < 2) continue;
        position = entry.elements[0].str;
        if (dropped) {
          const auto fields = as_map(entry.elements[1]);
          if (auto it = fields.find("sale_id"); it != fields.end()) forget_sale(it->second);
          continue;
        }
        auto parsed = parse_order(entry.elements[1].elements, 0);
        if (parsed.order.order_id.empty()) continue;
        sold_out_.apply(parsed.order, parsed.remaining);
        // Older than the cache's when this process's own script reply (a
        // claim, finish or payment made here) got there first: the cache keeps
        // the newer one, but the listeners were told of neither yet, and they
        // hear of every change, in the feed's order.
        cache_.update(parsed.order, parsed.progress);
        const auto view = view_of(parsed.order, cache_.progress(parsed.order.sale_id));
        std::vector<ChangeListener> listeners;
        {
          std::lock_guard lock(mutex_);
          listeners = listeners_;
        }
        for (const auto& listener : listeners) listener(view);
      }
    }
  }
}

bool RedisStore::check_lost_changes(const std::map<std::string, std::string>& last) {
  for (const auto& tag : tags()) {
    const auto position = last.find(changes_key(tag));
    if (position == last.end()) continue;
    // Only trimming removes entries from a change stream: if it removed any,
    // and the oldest entry left is past what this process has read, the
    // entries in between are gone unread.
    auto info = tail_connection_->command({"XINFO", "STREAM", position->first});
    if (info.connection_failed()) return false;  // (a stream not written yet answers an error: nothing lost)
    long long added = 0, length = 0;
    std::string oldest;
    for (std::size_t i = 0; i + 1 < info.elements.size(); i += 2) {
      const auto& name = info.elements[i].str;
      if (name == "entries-added") added = info.elements[i + 1].integer;
      else if (name == "length") length = info.elements[i + 1].integer;
      else if (name == "recorded-first-entry-id") oldest = info.elements[i + 1].str;
    }
    if (added <= length || entry_order(oldest) <= entry_order(position->second)) continue;
    const auto forgotten = cache_.forget_prefix(tag + "-");
    sold_out_.lost_changes(tag);
    spdlog::warn("change feed {}: changes before {} were trimmed before this process read them (it read up to {}); "
                 "{} cached orders of the tag forgotten, read from Redis again",
                 position->first, oldest, position->second, forgotten);
  }
  return true;
}

// On the feed thread, so the snapshot falls between feed entries: the ones
// read before it are in it, the ones after it are applied on top.
void RedisStore::follow_sold_out(const std::string& sale_id) {
  auto sale =
      tail_connection_->command({"HMGET", sale_key(sale_id), "remaining", "starts_at", "ends_at", "max_per_buyer"});
  auto holders = tail_connection_->command({"HGETALL", users_key(sale_id)});
  if (!sale.ok() || !holders.ok() || sale.elements.size() != 4 || sale.elements[0].type != Reply::Type::string) {
    if (!sale.ok() || !holders.ok()) sold_out_.want(sale_id);  // try again on the next round
    return;
  }
  SoldOutBook::Snapshot snapshot;
  snapshot.remaining = to_int(sale.elements[0].str);
  snapshot.starts_at = to_optional(sale.elements[1].str);
  snapshot.ends_at = to_optional(sale.elements[2].str);
  snapshot.max_per_buyer = to_optional(sale.elements[3].str).value_or(1);  // absent: a sale of before quantities
  for (std::size_t i = 0; i + 1 < holders.elements.size(); i += 2)
    snapshot.holders.emplace_back(holders.elements[i].str, holders.elements[i + 1].str);
  sold_out_.follow(sale_id, std::move(snapshot));
}

}  // namespace flashgate::store::redis
