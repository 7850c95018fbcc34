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

}  // namespace flashgate::store
