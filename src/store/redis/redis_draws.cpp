#include "store/redis/redis_draws.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <unordered_set>
#include <vector>

#include "domain/draw.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::size_t RedisDraws::run_due_draws(domain::TimeMs now) {
  const auto ids = client_.command_sync({"SMEMBERS", keys::sales});
  if (!ids.ok()) return 0;
  std::size_t drawn = 0;
  for (const auto& id : ids.elements) {
    if (done_.contains(id.str)) continue;
    const auto sale = client_.command_sync({"HMGET", keys::sale(id.str), "admission", "draw_at", "drawn"});
    if (!sale.ok() || sale.elements.size() != 3) continue;
    if (sale.elements[0].str != "draw" || sale.elements[2].str == "1") {
      done_.insert(id.str);  // first-come (a sale's admission never changes), or drawn
      continue;
    }
    if (now < to_int(sale.elements[1].str)) continue;
    if (draw_sale(id.str, now)) {
      done_.insert(id.str);
      ++drawn;
    }
  }
  return drawn;
}

bool RedisDraws::draw_sale(const std::string& sale_id, domain::TimeMs now) {
  const auto began = std::chrono::steady_clock::now();
  const auto tag = domain::sale_tag(sale_id);
  const auto sale_key = keys::sale(sale_id);
  const auto prefix = keys::prefix(tag);

  // 1. The seed: ours, or the one a drawer stored before.
  const auto seeded = client_.eval_sync(scripts::seed_draw(), {sale_key, keys::entrants(sale_id)},
                                        {prefix, sale_id, domain::draw_seed_hex(domain::random_draw_seed()),
                                         std::to_string(now)});
  if (!seeded.ok()) {
    spdlog::warn("draw of sale {}: seeding failed: {}", sale_id, describe(seeded));
    return false;
  }
  const auto& outcome = outcome_of(seeded);
  if (outcome == "drawn") return true;
  if (outcome != "seeded" || seeded.elements.size() < 5) return false;
  const std::string& seed_hex = seeded.elements[1].str;
  const auto seeded_at = to_int(seeded.elements[2].str);
  const auto entrant_count = static_cast<std::size_t>(to_int(seeded.elements[3].str));
  const auto stock = to_int(seeded.elements[4].str);

  // 2. The seed in the system of record, before any result. Its first seed
  //    is the draw's: another one in Redis means Redis lost the first (a
  //    failover before the write reached a replica) and with it everything
  //    written after it, so nothing was applied with the new one.
  const auto stored = log_.record_draw_seed(sale_id, seed_hex, seeded_at, entrant_count);
  if (!stored) return false;
  if (*stored != seed_hex)
    spdlog::warn("draw of sale {}: Redis's seed is not the one PostgreSQL keeps (Redis lost it); drawing with "
                 "PostgreSQL's", sale_id);
  const auto seed = domain::parse_draw_seed_hex(*stored);
  if (!seed) {
    spdlog::error("draw of sale {}: the stored seed is malformed", sale_id);
    return false;
  }
  const double seeded_ms = ms_since(began);

  // 3. The closed entrant set, the draw, and the result in the system of record.
  std::vector<domain::DrawEntrant> entrants;
  entrants.reserve(entrant_count);
  std::unordered_set<std::string> seen;  // SSCAN may return a member twice
  std::string cursor = "0";
  do {
    const auto page = client_.eval_sync(scripts::read_entrants(), {sale_key, keys::entrants(sale_id)},
                                        {prefix, sale_id, cursor, std::to_string(read_batch)});
    if (!page.ok() || page.elements.empty()) {
      spdlog::warn("draw of sale {}: reading the entrants failed: {}", sale_id, describe(page));
      return false;
    }
    cursor = page.elements[0].str;
    for (std::size_t i = 1; i + 3 < page.elements.size(); i += 4)
      if (seen.insert(page.elements[i].str).second)
        entrants.push_back({page.elements[i].str, page.elements[i + 1].str, to_int(page.elements[i + 2].str),
                            to_int(page.elements[i + 3].str)});
  } while (cursor != "0");
  seen = {};
  if (entrants.size() != entrant_count) {
    spdlog::error("draw of sale {}: {} entrants read, {} counted when the seed closed the set", sale_id,
                  entrants.size(), entrant_count);
    return false;
  }
  const auto drawing_began = std::chrono::steady_clock::now();
  const auto result = domain::run_draw(entrants, stock, *seed);
  const double drawn_ms = ms_since(drawing_began);
  const auto writing_began = std::chrono::steady_clock::now();
  if (!log_.record_draw_result(sale_id, domain::now_ms(), entrants, result)) return false;
  const double written_ms = ms_since(writing_began);

  // 4. Applied in batches, the drawn first in position order (the ranking's order), then the rest.
  const auto applying_began = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> order;
  order.reserve(entrants.size());
  for (const auto i : result.ranking)
    if (result.position[i]) order.push_back(i);
  for (const auto i : result.ranking)
    if (!result.position[i]) order.push_back(i);
  const std::vector<std::string> batch_keys{sale_key, keys::queue(tag), keys::changes(tag), keys::outcomes(tag)};
  for (std::size_t from = 0; from < order.size(); from += apply_batch) {
    std::vector<std::string> args{prefix, sale_id, std::to_string(domain::now_ms())};
    for (std::size_t k = from; k < std::min(order.size(), from + apply_batch); ++k) {
      args.push_back(entrants[order[k]].order_id);
      args.push_back(std::to_string(result.position[order[k]]));
    }
    const auto applied = client_.eval_sync(scripts::apply_draw(), batch_keys, std::move(args));
    if (!applied.ok()) {
      spdlog::warn("draw of sale {}: applying failed: {}", sale_id, describe(applied));
      return false;
    }
  }

  // 5. The drawn marker.
  const auto finished = client_.eval_sync(scripts::finish_draw(), {sale_key, keys::entrants(sale_id)},
                                          {prefix, sale_id, std::to_string(result.admitted),
                                           std::to_string(domain::now_ms())});
  if (outcome_of(finished) != "drawn") {
    spdlog::warn("draw of sale {}: not finished: {}", sale_id, describe(finished));
    return false;
  }
  spdlog::info("draw of sale {}: {} entrants, {} drawn ({} units); seeded in {:.1f} ms, drawn in {:.1f} ms, result "
               "written in {:.1f} ms, applied and told in {:.1f} ms",
               sale_id, entrants.size(), result.admitted, result.units_admitted, seeded_ms, drawn_ms, written_ms,
               ms_since(applying_began));
  return true;
}

}  // namespace flashgate::store::redis
