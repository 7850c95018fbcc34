#pragma once
// The drawer's side of a draw sale on Redis (store/sale_draws.hpp; the Lua
// in draw_scripts.cpp). Any number of workers may run it at once: the first
// seed written to the sale hash stays (seed_draw), every drawer computes the
// same result from it over the same closed entrant set, and applying is a
// compare-and-set per order, so each change happens once. A drawer that
// dies anywhere leaves a state the next round finishes:
//   1. seed_draw: the seed in the sale hash (durable as Redis is: AOF, replicas),
//      which closes the entrant set;
//   2. the seed in the DrawLog (PostgreSQL draws), before any result; the
//      first one written there is the draw's (every drawer draws with it);
//   3. the entrants read, run_draw, and every entrant's position in the
//      DrawLog (draw_entrants, draws.drawn_at) in one transaction;
//   4. apply_draw in batches, the drawn first in position order (the tag's
//      queue takes them in draw order), each change on the tag's change
//      stream, NOT_DRAWN on its outcome stream;
//   5. finish_draw: the drawn marker; the intake is first-come from here.
#include <cstddef>
#include <mutex>
#include <set>
#include <string>

#include "store/redis/redis_link.hpp"
#include "store/sale_draws.hpp"

namespace flashgate::store::redis {

class RedisDraws final : public SaleDraws {
 public:
  // Orders per apply_draw call: a script of this size runs for about a millisecond.
  static constexpr std::size_t apply_batch = 1000;
  // Entrants per read_entrants call.
  static constexpr std::size_t read_batch = 2000;

  RedisDraws(RedisLink& client, DrawLog& log) : client_(client), log_(log) {}

  std::size_t run_due_draws(domain::TimeMs now) override;

 private:
  // One sale's draw, steps 1 to 5; false if not completed now (tried again next round).
  bool draw_sale(const std::string& sale_id, domain::TimeMs now);

  RedisLink& client_;
  DrawLog& log_;
  // Sales that need no draw any more (first-come, or drawn): not asked again.
  std::set<std::string> done_;
};

}  // namespace flashgate::store::redis
