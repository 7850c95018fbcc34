#include "store/redis/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

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

std::vector<std::string> create_sale_args(const domain::Sale& sale) {
  std::vector<std::string> args{sale.sale_id,
                                sale.item,
                                std::to_string(sale.stock),
                                sale.starts_at ? std::to_string(*sale.starts_at) : "",
                                sale.ends_at ? std::to_string(*sale.ends_at) : "",
                                std::to_string(sale.created_at),
                                std::to_string(sale.max_per_buyer)};
  if (sale.admission.is_draw()) {
    const auto& a = sale.admission;
    for (auto value : {std::string("draw"), std::to_string(a.draw_window_ms), std::to_string(a.prequeue_ms),
                       std::to_string(domain::entry_opens_at(sale, a)), std::to_string(domain::draw_at(sale, a))})
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
      replica_wait_{*options_.wait_replicas, options_.wait_timeout},
      cache_(options_.near_cache_orders),
      groups_(*client_, options_.reclaim_after),
      queue_(*client_, groups_, cache_, open_connection_, replica_wait_, options_.consumer_prefix),
      outcomes_(*client_, groups_, open_connection_, options_.consumer_prefix),
      feed_(groups_, cache_, sold_out_, service_time_ms_, open_connection_),
      archive_(*client_, feed_),
      ledger_(*client_, groups_) {
  const std::string where = options_.cluster_seeds.empty()
                                ? options_.host + ":" + std::to_string(options_.port)
                                : "cluster " + options_.cluster_seeds.front().to_string();
  if (!client_->wait_connected(limits::connect_wait))
    spdlog::warn("redis {} not reachable yet; retrying in the background", where);
  spdlog::info("redis {}: every intake, payment and finish waits for {} replica(s)", where, replica_wait_.replicas);
}

RedisStore::~RedisStore() { stop(); }

// The feed thread calls listeners and fills the near-cache and the sold-out
// book; the client's thread runs callbacks that do the same. Both are joined
// here, before any member they touch is destroyed.
void RedisStore::stop() {
  groups_.stop();
  outcomes_.stop();
  feed_.stop();
  queue_.stop();
  client_->stop();
}

OrderView RedisStore::remember(const Reply& reply) {
  auto parsed = parse_order(reply.elements, 1);
  cache_.update(parsed.order, parsed.progress);
  return view_of(parsed.order, cache_.progress(parsed.order.sale_id), service_time_ms_.load());
}

void RedisStore::create_sale(const domain::Sale& sale, Callback<SaleView> done) {
  const std::string tag = domain::sale_tag(sale.sale_id);
  // The queue's consumer group first, so that no order can be queued where no window looks.
  const auto queue = keys::queue(tag);
  client_->command_for_key(queue, {"XGROUP", "CREATE", queue, keys::windows_group, "0", "MKSTREAM"}, [this, sale, tag,
                                                                                                  done](Reply) {
    client_->eval(scripts::create_sale(), {keys::sale(sale.sale_id)}, create_sale_args(sale),
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

void RedisStore::get_sale(const std::string& sale_id, Callback<SaleView> done) {
  client_->command({"HGETALL", keys::sale(sale_id)}, [done](Reply reply) {
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
  client_->eval(scripts::intake(),
               {keys::sale(sale_id), keys::users(sale_id), keys::queue(tag), keys::changes(tag), keys::held(sale_id)},
               {keys::prefix(tag), sale_id, request.user_id, domain::new_tagged_order_id(sale_id), now_text(),
                std::to_string(request.quantity), request.request_id},
               [this, sale_id, done](Reply reply) {
                 if (!reply.ok()) return done(error_of(reply));
                 const auto& outcome = outcome_of(reply);
                 if (outcome == "accepted" || outcome == "existing") {
                   IntakeOutcome taken{outcome == "accepted", remember(reply)};
                   if (!replica_wait_.wanted()) return done(std::move(taken));
                   // An order told of only once a replica has it; the same
                   // buyer again (a retry) finds it and waits anew.
                   return client_->wait_replicas(
                       keys::sale(sale_id), replica_wait_.replicas, replica_wait_.timeout,
                       [this, taken = std::move(taken), done](Reply copied) mutable {
                         if (!replica_wait_.enough(copied)) return done(not_replicated());
                         done(std::move(taken));
                       });
                 }
                 if (outcome == "drawing") return done(drawing());
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
  // The refusal is made only where it is the answer: its text is allocated.
  if (domain::tag_of_order(order_id).empty()) return done(domain::no_order_for_ticket());
  if (auto cached = cache_.find(order_id)) {
    if (cached->sale_id != sale_id) return done(domain::no_order_for_ticket());
    return done(view_of(*cached, cache_.progress(sale_id), service_time_ms_.load()));
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
                   if (!replica_wait_.wanted()) return done(remember(reply));
                   return client_->wait_replicas(keys::order(order_id), replica_wait_.replicas,
                                                 replica_wait_.timeout,
                                                 [this, view = remember(reply), done](Reply copied) mutable {
                                                   if (!replica_wait_.enough(copied)) return done(not_replicated());
                                                   done(std::move(view));
                                                 });
                 }
                 if (auto refused = domain::refusal_named(outcome)) return done(std::move(*refused));
                 done(error_of(Reply::error("unexpected pay reply " + describe(reply))));
               });
}

}  // namespace flashgate::store::redis
