#pragma once
// A fair start (issue #26 item 4): a sale with "admission": "draw" takes
// every buyer who comes during its prequeue or its draw window as an equal
// entrant (ENTERED), and at the end of the window ranks them all at random
// with a seeded keyed hash; the first that fit the stock become QUEUED with
// their position, the rest NOT_DRAWN. After the window the sale is
// first-come as any other. Pure: the clock and the seed are inputs.
//
// The draw, exactly (an auditor recomputes it from the stored seed and
// entrants; docs/architecture.md "The draw" has the Python lines):
//   rank key of an entrant = BLAKE2b(message = its buyer id's bytes,
//                                    key = the 32-byte seed, digest size 16)
//   ranking = the entrants sorted by (rank key bytes, buyer id bytes,
//             order id bytes), ascending
//   walk the ranking with `left` = stock: an entrant whose quantity <= left
//   is admitted (position = admitted so far + 1, left -= quantity); any
//   other is NOT_DRAWN and the walk goes on.
//
// Why the buyer, not the order, is hashed: a buyer allowed several orders
// (max_per_buyer > 1) gets one lottery ticket however many orders they
// place; their orders sit together in the ranking, in order-id order.
// Why the walk goes on past an entrant that does not fit: the first-come
// intake does the same (not_enough_stock for that one, the next smaller
// request still gets units), so no unit stays unsold while an entrant who
// asked for fewer waits outside, and no order is cut to a part.
// Entry time plays no part: it is carried for the log only.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/admission.hpp"
#include "domain/errors.hpp"
#include "domain/sale.hpp"
#include "domain/time.hpp"

namespace flashgate::domain {

// A draw sale needs starts_at (its window opens there), 0 < draw_window <=
// max_draw_window_ms, 0 <= prequeue <= max_prequeue_ms, and no ends_at
// before the draw, and one bucket; a first-come sale has neither setting.
std::optional<Error> validate_admission(const Sale& sale, const SaleAdmission& admission);

// When entry opens (starts_at - prequeue) and when the draw is due
// (starts_at + draw_window), for a draw sale that passed validate_admission.
TimeMs entry_opens_at(const Sale& sale, const SaleAdmission& admission);
TimeMs draw_at(const Sale& sale, const SaleAdmission& admission);

enum class AdmissionPhase {
  not_open,    // before entry opens (draw) or before starts_at (first-come)
  entering,    // [entry_opens_at, draw_at): intakes become ENTERED entrants
  first_come,  // from draw_at on (draw), from starts_at on (first-come)
};
std::string_view to_string(AdmissionPhase p);
// How an intake at `now` is admitted; whether the sale has ended is
// window_refusal's question, asked as before.
AdmissionPhase admission_phase(const Sale& sale, const SaleAdmission& admission, TimeMs now);

// When an ENTERED client should ask again: at the draw (nothing changes
// before it), at least min_poll_after_ms from now.
std::int64_t entrant_poll_after_ms(TimeMs draw_at, TimeMs now);

inline constexpr std::size_t draw_seed_size = 32;
using DrawSeed = std::array<unsigned char, draw_seed_size>;
// From the system's CSPRNG; the caller stores it with the draw's results.
DrawSeed random_draw_seed();
std::string draw_seed_hex(const DrawSeed& seed);
std::optional<DrawSeed> parse_draw_seed_hex(std::string_view hex);

inline constexpr std::size_t draw_rank_key_size = 16;
using DrawRankKey = std::array<unsigned char, draw_rank_key_size>;
DrawRankKey draw_rank_key(const DrawSeed& seed, std::string_view buyer);

struct DrawEntrant {
  std::string order_id;  // unique within the sale
  std::string buyer;     // the user id
  std::int64_t quantity = 1;
  TimeMs entered_at = 0;  // for the log; not read by the draw
};

struct DrawResult {
  std::vector<std::uint32_t> ranking;   // indexes into the entrants, first drawn first
  std::vector<std::uint32_t> position;  // by entrant index: queue position 1..admitted, 0 = NOT_DRAWN
  std::uint32_t admitted = 0;
  std::int64_t units_admitted = 0;  // <= stock
};

// The draw of `entrants` for `stock` units. Deterministic in (the set of
// entrants, stock, seed): the order they are passed in changes nothing.
// Throws std::invalid_argument for a negative stock, a quantity below 1,
// an entrant twice (the same buyer and order id), or more than 2^32 - 1 entrants (a store bug, not
// an outcome).
DrawResult run_draw(std::span<const DrawEntrant> entrants, std::int64_t stock, const DrawSeed& seed);

}  // namespace flashgate::domain
