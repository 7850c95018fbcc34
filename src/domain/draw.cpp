#include "domain/draw.hpp"

#include <sodium.h>

#include "domain/queue_hint.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace flashgate::domain {
namespace {

void ensure_sodium() {
  // Picks libsodium's fastest BLAKE2b for this CPU; the digest is the same either way.
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

// The rank key as two big-endian halves: comparing them compares its bytes.
struct RankedEntrant {
  std::uint64_t high;
  std::uint64_t low;
  std::uint32_t index;
};

std::uint64_t big_endian(const unsigned char* bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
  return v;
}

}  // namespace

std::string_view to_string(Admission a) {
  switch (a) {
    case Admission::first_come: return "first_come";
    case Admission::draw: return "draw";
  }
  return "first_come";
}

std::optional<Admission> parse_admission(std::string_view text) {
  for (Admission a : {Admission::first_come, Admission::draw})
    if (to_string(a) == text) return a;
  return std::nullopt;
}

std::optional<Error> validate_admission(const Sale& sale, const SaleAdmission& admission) {
  if (admission.admission == Admission::first_come) {
    if (admission.draw_window_ms != 0 || admission.prequeue_ms != 0)
      return Error{ErrorCode::invalid_request, "draw_window and prequeue belong to a sale with \"admission\": \"draw\""};
    return std::nullopt;
  }
  // The draw ranks every entrant of the sale in one set under one hash tag;
  // buckets would split them (and their stock) over several.
  if (sale.buckets > 1)
    return Error{ErrorCode::invalid_request,
                 "\"admission\": \"draw\" and \"buckets\" > 1 do not combine: a draw sale keeps its stock in one bucket"};
  // The draw walks one stock; a sale of several items has one per item.
  if (!sale.items.empty())
    return Error{ErrorCode::invalid_request, "\"admission\": \"draw\" and \"items\" do not combine yet: a draw sale has one item"};
  if (!sale.starts_at)
    return Error{ErrorCode::invalid_request, "a sale with \"admission\": \"draw\" needs starts_at: its draw window opens there"};
  if (admission.draw_window_ms <= 0 || admission.draw_window_ms > max_draw_window_ms)
    return Error{ErrorCode::invalid_request, "draw_window must be longer than 0 and at most 1h"};
  if (admission.prequeue_ms < 0 || admission.prequeue_ms > max_prequeue_ms)
    return Error{ErrorCode::invalid_request, "prequeue must be from 0 to 24h"};
  if (sale.ends_at && *sale.ends_at < draw_at(sale, admission))
    return Error{ErrorCode::invalid_request, "ends_at must not be before the draw (starts_at + draw_window)"};
  return std::nullopt;
}

TimeMs entry_opens_at(const Sale& sale, const SaleAdmission& admission) {
  return sale.starts_at.value_or(sale.created_at) - admission.prequeue_ms;
}

TimeMs draw_at(const Sale& sale, const SaleAdmission& admission) {
  return sale.starts_at.value_or(sale.created_at) + admission.draw_window_ms;
}

std::string_view to_string(AdmissionPhase p) {
  switch (p) {
    case AdmissionPhase::not_open: return "not_open";
    case AdmissionPhase::entering: return "entering";
    case AdmissionPhase::first_come: return "first_come";
  }
  return "not_open";
}

AdmissionPhase admission_phase(const Sale& sale, const SaleAdmission& admission, TimeMs now) {
  if (admission.admission == Admission::first_come)
    return sale.starts_at && now < *sale.starts_at ? AdmissionPhase::not_open : AdmissionPhase::first_come;
  if (now < entry_opens_at(sale, admission)) return AdmissionPhase::not_open;
  if (now < draw_at(sale, admission)) return AdmissionPhase::entering;
  return AdmissionPhase::first_come;
}

std::int64_t entrant_poll_after_ms(TimeMs draw_at, TimeMs now) {
  return std::max<std::int64_t>(draw_at - now, min_poll_after_ms);
}

DrawSeed random_draw_seed() {
  ensure_sodium();
  DrawSeed seed;
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

std::string draw_seed_hex(const DrawSeed& seed) {
  std::string out(seed.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), seed.data(), seed.size());
  out.pop_back();
  return out;
}

std::optional<DrawSeed> parse_draw_seed_hex(std::string_view hex) {
  if (hex.size() != draw_seed_size * 2) return std::nullopt;
  DrawSeed seed;
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(seed.data(), seed.size(), hex.data(), hex.size(), nullptr, &length, &end) != 0 ||
      length != seed.size() || end != hex.data() + hex.size())
    return std::nullopt;
  return seed;
}

DrawRankKey draw_rank_key(const DrawSeed& seed, std::string_view buyer) {
  ensure_sodium();
  DrawRankKey key;
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(buyer.data()), buyer.size(),
                     seed.data(), seed.size());
  return key;
}

DrawResult run_draw(std::span<const DrawEntrant> entrants, std::int64_t stock, const DrawSeed& seed) {
  if (stock < 0) throw std::invalid_argument("a draw of a negative stock");
  if (entrants.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("a draw of more than 2^32 - 1 entrants");
  ensure_sodium();
  std::vector<RankedEntrant> ranked(entrants.size());
  for (std::uint32_t i = 0; i < ranked.size(); ++i) {
    if (entrants[i].quantity < 1) throw std::invalid_argument("a draw entrant with a quantity below 1");
    const DrawRankKey key = draw_rank_key(seed, entrants[i].buyer);
    ranked[i] = {big_endian(key.data()), big_endian(key.data() + 8), i};
  }
  // Ties of the key are one buyer's orders (or a 2^-128 collision): the ids
  // settle them, so the input's order never does.
  const auto before = [&entrants](const RankedEntrant& a, const RankedEntrant& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    const DrawEntrant& x = entrants[a.index];
    const DrawEntrant& y = entrants[b.index];
    if (const int c = x.buyer.compare(y.buyer); c != 0) return c < 0;
    return x.order_id < y.order_id;
  };
  std::sort(ranked.begin(), ranked.end(), before);

  DrawResult result;
  result.ranking.resize(ranked.size());
  result.position.assign(ranked.size(), 0);
  std::int64_t left = stock;
  for (std::size_t r = 0; r < ranked.size(); ++r) {
    const std::uint32_t i = ranked[r].index;
    result.ranking[r] = i;
    if (r > 0 && !before(ranked[r - 1], ranked[r])) throw std::invalid_argument("a draw entrant given twice");
    if (entrants[i].quantity <= left) {
      left -= entrants[i].quantity;
      result.position[i] = ++result.admitted;
    }
  }
  result.units_admitted = stock - left;
  return result;
}

}  // namespace flashgate::domain
