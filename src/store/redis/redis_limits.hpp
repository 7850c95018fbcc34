#pragma once
// The Redis store's sizes and waits, in one place. The Lua scripts get the
// ones they use from here too (script_text.cpp fills them into the script
// text once, at start-up), so the C++ and the Lua cannot disagree.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "domain/queue_hint.hpp"

namespace flashgate::store::redis::limits {

using std::chrono::milliseconds;

// --- stream lengths (XADD MAXLEN ~: Redis trims whole nodes, so a stream keeps at least this many) ---
// A tag's change feed (fg:{T}:changes). A process that falls further behind
// than this loses changes: the feed's gap detection notices and forgets them.
inline constexpr std::size_t changes_maxlen = 100'000;
// fg:dropped, the archived sales every process forgets: only a process that
// slept through this many archives misses one.
inline constexpr std::size_t dropped_maxlen = 10'000;

// How long the store's constructor waits for a first connection; it goes on trying in the background.
inline constexpr milliseconds connect_wait{5000};
// An intake of a bucketed sale tries its home bucket at most this many times (each after a final phase that
// moved units there, which others bought first); then it is answered unavailable (retry), never sold out.
inline constexpr int bucket_attempts = 16;

// --- the change feed's thread ---
inline constexpr std::size_t feed_read_count = 1000;  // XREAD COUNT, per stream
inline constexpr milliseconds feed_block{500};        // XREAD BLOCK: how late the thread sees stop()
inline constexpr milliseconds feed_read_timeout{3000};  // the client's patience with one XREAD
inline constexpr milliseconds feed_retry_pause{100};    // after Redis could not be read
inline constexpr milliseconds feed_idle_pause{200};     // no stream to read yet
// How often the feed looks for changes trimmed before it read them. Redis
// cannot write changes_maxlen changes of a tag in less, so a gap is seen
// before the next read carries the position past it.
inline constexpr milliseconds gap_check_period{1000};

// --- reads of many streams split by slot (a Redis Cluster: stream_reads.hpp) ---
// When no slot had anything, one is read with a BLOCK of this much per slot
// read, so an idle reader sends about one command per this much, however
// many slots; an entry in a slot not blocked on waits at most that block and
// one sweep of the slots (2 ms x slots).
inline constexpr milliseconds slot_block_per_slot{2};

// --- tags and consumer groups ---
inline constexpr milliseconds tags_refresh_period{1000};  // fg:tags read again at most this often
inline constexpr milliseconds group_read_grace{2000};     // an XREADGROUP's patience beyond its BLOCK
inline constexpr milliseconds group_read_retry_pause{50};  // after an XREADGROUP failed
inline constexpr std::size_t window_read_count = 1;      // XREADGROUP COUNT of a window, per queue
inline constexpr std::size_t outcome_read_count = 100;   // XREADGROUP COUNT of the outcome log, per stream
inline constexpr std::size_t idle_claim_count = 100;     // XAUTOCLAIM COUNT: abandoned entries per round
// reclaim_period(): a quarter of reclaim_after, within these bounds.
inline constexpr milliseconds reclaim_period_min{100};
inline constexpr milliseconds reclaim_period_max{5000};
// A refused claim is logged on its first refusal and once every this many after.
inline constexpr std::size_t claim_refusals_per_log = 100;

// --- batches of the periodic tasks ---
inline constexpr std::size_t drop_batch = 1000;         // keys and entries per step of drop_sale
inline constexpr std::size_t unpaid_batch = 1000;       // orders cancel_unpaid looks at per tag and round
inline constexpr milliseconds gauge_timeout{500};       // a metric's read (queue depth, outcome backlog)

// --- the start rate (scripts::claim keeps it, RedisStore reads it) ---
// The time constant of the decaying average of starts (domain::RateMeter's).
inline constexpr auto rate_tau_ms = static_cast<std::int64_t>(domain::rate_tau_seconds * 1000.0);
// A run of starts begins anew after this long idle (domain::rate_idle_reset_taus).
inline constexpr std::int64_t rate_idle_reset_ms =
    static_cast<std::int64_t>(domain::rate_idle_reset_taus * static_cast<double>(rate_tau_ms));

}  // namespace flashgate::store::redis::limits
