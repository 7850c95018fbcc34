#pragma once
// The draws of draw sales (domain/draw.hpp), as the worker's drawer task
// (worker/sale_draws) runs them: blocking, on a thread of its own.
//
// What a backend must guarantee: a sale's draw happens once. Its seed is
// durable before any of its result, the entrant set is closed when the seed
// is taken (an intake from then on is never an entrant), and the result is
// durable before any waiter hears of it; a draw that failed or was cut by a
// crash is finished later with the same seed, to the same result.
#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "domain/draw.hpp"
#include "domain/time.hpp"

namespace flashgate::store {

class SaleDraws {
 public:
  virtual ~SaleDraws() = default;
  // Draws every sale whose draw is due at `now` and not done yet; how many
  // draws were completed. A draw the journal refused is tried again at the
  // next call.
  virtual std::size_t run_due_draws(domain::TimeMs now) = 0;
};

// Where a store whose own durability is not the system of record (Redis)
// keeps its draws for the audit: PostgreSQL's draws and draw_entrants, as
// SQLite's. Both calls are idempotent and answer false when the database
// cannot be written (the drawer tries again at its next round).
class DrawLog {
 public:
  virtual ~DrawLog() = default;
  // The sale's seed, before any of its result; answers the seed the database
  // holds (the first one written), nullopt if it could not be written.
  virtual std::optional<std::string> record_draw_seed(const std::string& sale_id, const std::string& seed_hex,
                                                      domain::TimeMs seeded_at, std::size_t entrants) = 0;
  // Every entrant with its position (result.position by index; 0: not drawn)
  // and the draw's numbers; the first result written stays.
  virtual bool record_draw_result(const std::string& sale_id, domain::TimeMs drawn_at,
                                  std::span<const domain::DrawEntrant> entrants, const domain::DrawResult& result) = 0;
};

}  // namespace flashgate::store
