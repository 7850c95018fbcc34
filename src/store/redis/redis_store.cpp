#include "store/redis/bucket_tags.hpp"
#include "store/redis/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include "domain/bucket.hpp"
#include "domain/draw.hpp"
#include "domain/ids.hpp"
#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/cluster_client.hpp"
#include "store/redis/cluster/cluster_connection.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

using domain::ErrorCode;

namespace {

std::string now_text() { return std::to_string(domain::now_ms()); }

// Between a draw sale's window and its result: a latecomer's place depends on how many are drawn.
const domain::Error& drawing() {
  static const domain::Error error{ErrorCode::unavailable, "the sale's draw is being made; try again in a moment"};
  return error;
}

// scripts::create_sale's ARGV for bucket `bucket` of the sale (0 of 1 for a sale of one bucket).
std::vector<std::string> create_sale_args(const domain::Sale& sale, std::int64_t bucket) {
  std::vector<std::string> args{sale.sale_id,
                                sale.item,
                                std::to_string(sale.stock),
                                sale.starts_at ? std::to_string(*sale.starts_at) : "",
                                sale.ends_at ? std::to_string(*sale.ends_at) : "",
                                std::to_string(sale.created_at),
                                std::to_string(sale.max_per_buyer),
                                std::to_string(sale.buckets),
                                std::to_string(bucket),
                                std::to_string(domain::bucket_share(sale.stock, sale.buckets, bucket))};
  if (sale.admission.is_draw()) {
    const auto& a = sale.admission;
    for (auto value : {std::string("draw"), std::to_string(a.draw_window_ms), std::to_string(a.prequeue_ms),
                       std::to_string(domain::entry_opens_at(sale, a)), std::to_string(domain::draw_at(sale, a))})
      args.push_back(std::move(value));
  }
  // A sale of several items (one bucket, no draw): "items", then id, name, stock and limit of each.
  if (!sale.items.empty()) {
    args.emplace_back("items");
    for (const auto& item : sale.items)
      for (auto value : {item.item_id, item.name, std::to_string(item.stock), std::to_string(item.max_per_buyer)})
        args.push_back(std::move(value));
  }
  return args;
}

// Without a consumer prefix, this host and process name the consumers.
RedisStoreOptions with_defaults(RedisStoreOptions options) {
  if (options.consumer_prefix.empty()) {
    char host[128] = "host";
    ::gethostname(host, sizeof host - 1);
    options.consumer_prefix = std::string(host) + "-" + std::to_string(::getpid());
  }
  return options;
}

// Unset: 1 if every master has a replica (asked now), else 0.
RedisStoreOptions with_replicas_found(RedisStoreOptions options) {
  if (options.wait_replicas) return options;
  std::optional<int> fewest;
  if (options.cluster_seeds.empty()) {
    BlockingRedis redis(options.host, options.port);
    fewest = fewest_replicas(redis);
  } else {
    cluster::ClusterOptions cluster;
    cluster.seeds = options.cluster_seeds;
    cluster::ClusterConnection connection(std::move(cluster));
    fewest = fewest_replicas(connection);
  }
  if (!fewest) spdlog::warn("redis: its replicas unknown at start (unreachable); no write waits for one");
  options.wait_replicas = fewest.value_or(0) > 0 ? 1 : 0;
  return options;
}

std::unique_ptr<RedisLink> open_link(const RedisStoreOptions& options) {
  if (!options.cluster_seeds.empty()) {
    cluster::ClusterClientOptions cluster;
    cluster.seeds = options.cluster_seeds;
    return std::make_unique<cluster::ClusterClient>(std::move(cluster));
  }
  RedisOptions single;
  single.host = options.host;
  single.port = options.port;
  single.connections = options.wait_replicas.value_or(0) > 0 ? 1 : options.connections;
  return std::make_unique<RedisClient>(std::move(single));
}

BlockingLinkMaker connection_maker(const RedisStoreOptions& options) {
  if (!options.cluster_seeds.empty())
    return [seeds = options.cluster_seeds]() -> std::unique_ptr<BlockingLink> {
      cluster::ClusterOptions cluster;
      cluster.seeds = seeds;
      return std::make_unique<cluster::ClusterConnection>(std::move(cluster));
    };
  return [host = options.host, port = options.port]() -> std::unique_ptr<BlockingLink> {
    return std::make_unique<BlockingRedis>(host, port);
  };
}

}  // namespace

RedisStore::RedisStore(RedisStoreOptions options)
    : options_(with_replicas_found(with_defaults(std::move(options)))),
      client_(open_link(options_)),
      open_connection_(connection_maker(options_)),
      replica_waits_(*client_, *options_.wait_replicas, options_.wait_timeout),
      mover_(*client_, replica_waits_),
      cache_(options_.near_cache_orders),
      groups_(*client_, options_.reclaim_after),
      queue_(*client_, groups_, cache_, open_connection_, replica_waits_, options_.consumer_prefix),
      outcomes_(*client_, groups_, open_connection_, options_.consumer_prefix),
      feed_(groups_, cache_, sold_out_, service_time_ms_, open_connection_),
      archive_(*client_, feed_),
      ledger_(*client_, groups_, mover_) {
  // A sale archived and made again may have another number of buckets.
  feed_.on_sale_dropped([this](const std::string& sale_id) {
    std::unique_lock lock(buckets_mutex_);
    bucketed_.erase(sale_id);
  });
  const std::string where = options_.cluster_seeds.empty()
                                ? options_.host + ":" + std::to_string(options_.port)
                                : "cluster " + options_.cluster_seeds.front().to_string();
  if (!client_->wait_connected(limits::connect_wait))
    spdlog::warn("redis {} not reachable yet; retrying in the background", where);
  spdlog::info("redis {}: every intake, payment and finish waits for {} replica(s)", where, replica_waits_.replicas());
}

RedisStore::~RedisStore() { stop(); }

// The feed thread calls listeners and fills the near-cache and the sold-out
// book; the client's thread runs callbacks that do the same. Both are joined
// here, before any member they touch is destroyed.
void RedisStore::stop() {
  mover_.stop();
  groups_.stop();
  outcomes_.stop();
  feed_.stop();
  queue_.stop();
  client_->stop();
}

OrderView RedisStore::remember(const Reply& reply) {
  auto parsed = parse_order(reply.elements, 1);
  cache_.update(parsed.order, parsed.progress);
  return view_of(parsed.order, cache_.progress(parsed.order), service_time_ms_.load());
}

// An order told of only once a replica has it (the write went over the
// connection of `key`'s slot); the same buyer again (a retry) finds it and waits anew.
void RedisStore::replicated(const std::string& key, IntakeOutcome taken, const Callback<IntakeOutcome>& done) {
  if (!replica_waits_.wanted()) return done(std::move(taken));
  replica_waits_.after_write(key, [taken = std::move(taken), done](bool copied) mutable {
    if (!copied) return done(not_replicated());
    done(std::move(taken));
  });
}

void RedisStore::create_sale(const domain::Sale& sale, Callback<SaleView> done) {
  if (sale.buckets > 1) return mover_.post([this, sale, done] { create_bucketed_sale(sale, done); });
  const std::string tag = domain::sale_tag(sale.sale_id);
  // The queue's consumer group first, so that no order can be queued where no window looks.
  const auto queue = keys::queue(tag);
  client_->command_for_key(queue, {"XGROUP", "CREATE", queue, keys::windows_group, "0", "MKSTREAM"},
                           [this, sale, tag, done](Reply) {
    client_->eval(scripts::create_sale(), {keys::sale(sale.sale_id)}, create_sale_args(sale, 0),
                 [this, sale, tag, done](Reply created) {
                   if (!created.ok()) return done(error_of(created));
                   if (created.integer == 0) return done(domain::refusal(ErrorCode::sale_exists));
                   client_->command({"SADD", keys::tags, tag}, [](Reply) {});
                   client_->command({"SADD", keys::sales, sale.sale_id}, [this, sale, done](Reply) {
                     get_sale(sale.sale_id, done);
                   });
                 });
  });
}

// On the mover's thread. Bucket 0 first: its hash says the sale exists (and
// how many buckets it has) before any other bucket is made; the sale is
// listed in fg:sales only once every bucket is.
void RedisStore::create_bucketed_sale(const domain::Sale& sale, const Callback<SaleView>& done) {
  for (std::int64_t b = 0; b < sale.buckets; ++b) {
    const auto tag = bucket_tag(sale.sale_id, b, sale.buckets);
    const auto queue = keys::queue(tag);
    client_->command_sync_for_key(queue, {"XGROUP", "CREATE", queue, keys::windows_group, "0", "MKSTREAM"});
    const auto created =
        client_->eval_sync(scripts::create_sale(), {keys::sale_in(tag, sale.sale_id)}, create_sale_args(sale, b));
    if (!created.ok()) return done(error_of(created));
    if (created.integer == 0 && b == 0) return done(domain::refusal(ErrorCode::sale_exists));
    const auto listed = client_->command_sync({"SADD", keys::tags, tag});
    if (!listed.ok()) return done(error_of(listed));
  }
  {
    std::unique_lock lock(buckets_mutex_);
    bucketed_[sale.sale_id] = sale.buckets;
  }
  const auto listed = client_->command_sync({"SADD", keys::sales, sale.sale_id});
  if (!listed.ok()) return done(error_of(listed));
  auto view = mover_.view(sale.sale_id, sale.buckets);
  if (!view) return done(unreachable());
  done(std::move(*view));
}

void RedisStore::get_sale(const std::string& sale_id, Callback<SaleView> done) {
  client_->command({"HGETALL", keys::sale(sale_id)}, [this, sale_id, done](Reply reply) {
    if (!reply.ok()) return done(error_of(reply));
    auto view = parse_sale(reply);
    if (!view) return done(domain::refusal(ErrorCode::sale_not_found));
    if (view->sale.buckets <= 1) return done(std::move(*view));
    // A bucketed sale: summed over its buckets, by blocking reads off the client's thread.
    mover_.post([this, sale_id, buckets = view->sale.buckets, done] {
      auto whole = mover_.view(sale_id, buckets);
      if (!whole) return done(domain::refusal(ErrorCode::sale_not_found));
      done(std::move(*whole));
    });
  });
}

void RedisStore::intake(const std::string& sale_id, const IntakeRequest& request, Callback<IntakeOutcome> done) {
  if (!intake_open_) return done(domain::refusal(ErrorCode::shutting_down));
  switch (sold_out_.answer(sale_id, request.user_id, request.request_id, request.quantity, domain::now_ms(),
                           request.item_id)) {
    case SoldOutBook::Answer::ask_redis: break;
    case SoldOutBook::Answer::sold_out: return done(domain::refusal(ErrorCode::sold_out));
    case SoldOutBook::Answer::sale_ended: return done(domain::refusal(ErrorCode::sale_ended));
    case SoldOutBook::Answer::sale_not_open: return done(domain::refusal(ErrorCode::sale_not_open));
  }
  const auto buckets = bucket_count(sale_id);
  if (buckets > 1) return intake_in_bucket(sale_id, request, buckets, 0, std::move(done));
  const std::string tag = domain::sale_tag(sale_id);
  std::string order_id = domain::new_tagged_order_id(sale_id);
  std::string order_key = keys::order(order_id);
  std::vector<std::string> args{keys::prefix(tag), sale_id, request.user_id, std::move(order_id),
                                now_text(), std::to_string(request.quantity), request.request_id};
  // The item named, after the bucket arguments of a sale of one bucket; the script reads it only in a sale of several.
  if (!request.item_id.empty()) args.insert(args.end(), {"1", "0", request.item_id});
  client_->eval(scripts::intake(),
               {keys::sale(sale_id), keys::users(sale_id), keys::queue(tag), keys::changes(tag), keys::held(sale_id),
                std::move(order_key), keys::entrants(sale_id)},
               std::move(args), [this, sale_id, request, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 const auto& outcome = outcome_of(reply);
                 if (outcome == "accepted" || outcome == "existing")
                   return replicated(keys::sale(sale_id), IntakeOutcome{outcome == "accepted", remember(reply)}, done);
                 if (outcome == "buckets") return rerouted(sale_id, request, reply, 0, done);
                 if (outcome == "drawing") return done(drawing());
                 if (outcome == "item_required") return done(domain::item_required());
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

std::int64_t RedisStore::bucket_count(const std::string& sale_id) const {
  std::shared_lock lock(buckets_mutex_);
  if (bucketed_.empty()) return 1;
  const auto it = bucketed_.find(sale_id);
  return it == bucketed_.end() ? 1 : it->second;
}

void RedisStore::rerouted(const std::string& sale_id, const IntakeRequest& request, const Reply& reply, int attempt,
                          const Callback<IntakeOutcome>& done) {
  const auto buckets = reply.elements.size() > 1 ? to_int(reply.elements[1].str) : 1;
  {
    std::unique_lock lock(buckets_mutex_);
    if (buckets > 1) bucketed_[sale_id] = buckets;
    else bucketed_.erase(sale_id);
  }
  if (attempt >= limits::bucket_attempts) return done(unreachable());
  if (buckets > 1) return intake_in_bucket(sale_id, request, buckets, attempt + 1, done);
  intake(sale_id, request, done);
}

// A bucketed sale: the buyer's home bucket, and when it runs short the final
// phase (BucketMover::gather) on the mover's thread, then the home bucket again.
void RedisStore::intake_in_bucket(const std::string& sale_id, const IntakeRequest& request, std::int64_t buckets,
                                  int attempt, Callback<IntakeOutcome> done) {
  const auto home = domain::home_bucket(request.user_id, buckets);
  const auto tag = bucket_tag(sale_id, home, buckets);
  std::string order_id = tag + "-" + domain::new_order_id();
  std::string order_key = keys::order(order_id);
  client_->eval(
      scripts::intake(),
      {keys::sale_in(tag, sale_id), keys::users_in(tag, sale_id), keys::queue(tag), keys::changes(tag),
       keys::held_in(tag, sale_id), std::move(order_key)},
      {keys::prefix(tag), sale_id, request.user_id, std::move(order_id), now_text(),
       std::to_string(request.quantity), request.request_id, std::to_string(buckets), std::to_string(home)},
      [this, sale_id, tag, request, buckets, home, attempt, done](Reply reply) {
        if (!reply.ok()) return done(error_of(reply));
        const auto& outcome = outcome_of(reply);
        if (outcome == "accepted" || outcome == "existing")
          return replicated(keys::sale_in(tag, sale_id), IntakeOutcome{outcome == "accepted", remember(reply)}, done);
        if (outcome == "buckets") return rerouted(sale_id, request, reply, attempt, done);
        auto refused = domain::refusal_named(outcome);
        if (!refused) return done(error_of(Reply::error("unexpected intake reply " + describe(reply))));
        if (refused->code != ErrorCode::sold_out && refused->code != ErrorCode::not_enough_stock)
          return done(std::move(*refused));
        // Every bucket was seen empty and the feed has shown no unit given back since.
        if (refused->code == ErrorCode::sold_out && following_ && sold_out_.buckets_empty(sale_id))
          return done(std::move(*refused));
        if (attempt >= limits::bucket_attempts) return done(unreachable());
        // The home bucket ran short: only the sale as a whole may say sold out.
        mover_.post([this, sale_id, request, buckets, home, attempt, done] {
          const auto releases = sold_out_.releases();
          const auto gathered = mover_.gather(sale_id, buckets, home, request.quantity);
          switch (gathered.what) {
            case BucketMover::Gathered::retry: return intake_in_bucket(sale_id, request, buckets, attempt + 1, done);
            case BucketMover::Gathered::sold_out:
              sold_out_.all_buckets_empty(sale_id, releases);
              return done(domain::refusal(ErrorCode::sold_out));
            case BucketMover::Gathered::not_enough_stock: {
              return done(domain::not_enough_stock(gathered.remaining));
            }
            case BucketMover::Gathered::unreachable: return done(unreachable());
          }
        });
      });
}

void RedisStore::get_order(const std::string& sale_id, const std::string& order_id, Callback<OrderView> done) {
  // The refusal is made only where it is the answer: its text is allocated.
  if (domain::tag_of_order(order_id).empty()) return done(domain::no_order_for_ticket());
  if (auto cached = cache_.find(order_id)) {
    if (cached->sale_id != sale_id) return done(domain::no_order_for_ticket());
    return done(view_of(*cached, cache_.progress(*cached), service_time_ms_.load()));
  }
  client_->eval(scripts::read_order(), {keys::order(order_id)}, {keys::prefix(domain::tag_of_order(order_id))},
               [this, sale_id, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 if (outcome_of(reply) != "found") return done(domain::no_order_for_ticket());
                 auto view = remember(reply);
                 if (view.order.sale_id != sale_id) return done(domain::no_order_for_ticket());
                 done(std::move(view));
               });
}

void RedisStore::pay(const std::string& order_id, const std::string& payment_id, Callback<OrderView> done) {
  const auto tag = domain::tag_of_order(order_id);
  if (tag.empty()) return done(domain::refusal(ErrorCode::order_not_found));
  client_->eval(scripts::pay(), {keys::order(order_id), keys::changes(tag), keys::confirmed(tag), keys::outcomes(tag)},
               {keys::prefix(tag), payment_id, now_text()}, [this, order_id, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 const auto& outcome = outcome_of(reply);
                 if (outcome == "ok") {
                   if (!replica_waits_.wanted()) return done(remember(reply));
                   return replica_waits_.after_write(keys::order(order_id),
                                                     [view = remember(reply), done](bool copied) mutable {
                                                       if (!copied) return done(not_replicated());
                                                       done(std::move(view));
                                                     });
                 }
                 if (auto refused = domain::refusal_named(outcome)) return done(std::move(*refused));
                 done(error_of(Reply::error("unexpected pay reply " + describe(reply))));
               });
}

}  // namespace flashgate::store::redis
