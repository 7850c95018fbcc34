#pragma once
// The Lua scripts of the Redis store: each checks and acts in one atomic
// step on the server. Keys of one sale share the hash tag {T} (see
// domain::sale_tag), so a Redis Cluster keeps a sale's keys in one slot:
//   fg:{T}:sale:<sale_id>    hash: the sale, remaining, seq, started, counts (c:<STATUS>), rate
//                            (raw start rate, rate_at: its time, rate_since: its run's first start)
//   fg:{T}:sale:<sale_id>    ... and max_per_buyer, and x:<STATUS>: the units beyond one per order in each status
//   fg:{T}:sale:<sale_id>    ... and in a sale of several items (issue #26; one bucket, no draw): items (their
//                            ids in order, comma-separated), and per item in:<item> name, is:<item> stock,
//                            ir:<item> remaining, il:<item> max_per_buyer, idb:<item> remaining_db, and its
//                            orders and extra units per status ic:<item>:<STATUS>, ix:<item>:<STATUS>; the
//                            sale's remaining, c: and x: fields stay the sums of its items'
//   fg:{T}:users:<sale_id>   hash: hold key (domain::hold_key) -> order id of the orders holding units
//   fg:{T}:held:<sale_id>    hash: buyer key (domain::buyer_key: user, or user@item) -> units held (only under
//                            a max_per_buyer > 1: the sale's, or the item's)
//   fg:{T}:order:<order_id>  hash: the order's status object fields (external_id only once the shop said one;
//                            item only in a sale of several items)
//   fg:{T}:queue             stream: order ids waiting for a window or in one (consumer group "windows");
//                            an entry is deleted once its order is done with
//   fg:{T}:changes           stream: every status change, with the sale's started count and rate (all three fields)
//   fg:{T}:outcomes          stream: final outcomes (PAID, CANCELLED, FAILED) as order fields, for the
//                            system of record (consumer group "mirror"); deleted once written there
//   fg:{T}:confirmed         sorted set: CONFIRMED orders by confirmation time (payment timeouts)
// A bucketed sale (bucket_tags.hpp, docs/architecture.md "Buckets") has all of the above once per
// bucket, under the bucket's tag; its sale hashes add buckets, bucket, share; and two keys per bucket:
//   fg:{T}:transit:<sale_id> hash: transfer id -> "<receiver bucket>:<units>", taken and not yet settled
//   fg:{T}:applied:<sale_id> set: transfer ids this bucket was given
// Global: fg:tags (set of tags), fg:sales (set of sale ids), fg:dropping (ids of archived sales whose
// keys are being removed), fg:dropped (stream: ids of sales removed, for the other processes to forget).
// No script touches a global key: on a Redis Cluster each is in a slot of its own, and a script's keys
// must share one slot (the tag's).
// A slot migration (redis-cli --cluster reshard) moves a slot's keys one batch at a time, and Redis checks
// only a script's declared keys: a key it makes is declared (the intake's new order, a draw's entrants);
// one it reaches through another (an order's sale hash, a buyer's hold, an entrant's order) is checked
// before the script's first write (scripts.cpp, elsewhere) and answers TRYAGAIN if it is on the other
// node; the cluster clients send a TRYAGAIN again until the slot has moved (cluster/redirect.hpp).
// Archiving a sale (RedisStore::drop_sale) moves its id from fg:sales to fg:dropping, removes its keys
// (and its tag's streams if no other sale has that tag) and last its sale hash and its fg:dropping entry.
#include <vector>

#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::scripts {

// KEYS sale; ARGV sale_id item stock starts_at ends_at created_at max_per_buyer [buckets bucket share
//   [admission draw_window_ms prequeue_ms entry_opens_at draw_at]] -> 1 created, 0 exists. With buckets > 1
//   the hash is one bucket's: remaining starts at its share. admission "draw": a draw sale (of one bucket).
//   A sale of several items: after share, "items" and then item_id name stock max_per_buyer of each.
const Script& create_sale();
// KEYS sale users queue changes held new_order [entrants]; ARGV prefix sale_id user_id new_order_id now quantity request_id
// [buckets bucket [item_id]] -> {outcome, order fields...}; outcome accepted|existing|sale_not_found|sale_not_open|
//    sale_ended|sold_out|invalid_request|buyer_limit_reached|drawing (a draw sale between its window and its
//    result); {not_enough_stock, remaining};
//    In a sale of several items (item_id ignored otherwise): item_required (none named), item_not_found;
//    sold_out, not_enough_stock and the limit are the item's.
//    {buckets, N}: the sale has N buckets, not the number given (absent: 1); nothing was done.
//    In a bucketed sale sold_out and not_enough_stock speak of this bucket only.
//    A draw sale before its draw is applied: accepted is ENTERED (draw_scripts.cpp, enter_draw).
const Script& intake();
// KEYS order; ARGV prefix -> {found|order_not_found, fields...}
const Script& read_order();
// KEYS order changes queue; ARGV prefix now group consumer entry_id
// -> {claimed, fields...}: QUEUED -> PROCESSING, the entry renewed;
//    {skip}: the order is not QUEUED (drop the entry); {stale}: the entry is not pending under `consumer`
const Script& claim();
// KEYS queue; ARGV group consumer entry_id [consumer entry_id ...] -> entries renewed (idle 0):
// those still pending under the consumer named with them
const Script& keep_entries();
// KEYS order changes confirmed outcomes; ARGV prefix to reason now external_id
// -> {done|skip, fields...}: PROCESSING -> to; CONFIRMED keeps a non-empty external_id in the order's hash
const Script& finish();
// KEYS order changes queue; ARGV prefix now -> {requeued|skip}: PROCESSING or QUEUED back in line
const Script& hand_back();
// KEYS stream; ARGV group entry_id -> entries deleted: acknowledged and gone from the stream
const Script& drop_entry();
// KEYS order changes confirmed outcomes; ARGV prefix payment_id now
// -> {ok|order_not_found|order_not_payable, fields...}
const Script& pay();
// KEYS order changes confirmed outcomes; ARGV prefix now confirmed_before -> {cancelled|skip}
const Script& cancel_unpaid();

// --- archiving: RedisStore::drop_sale, in this order; each step may be run again after a crash ---
// Each in the sale's slot only: SaleArchive moves the id between the global sets and announces it in
// fg:dropped with commands of their own (each global key is in a slot of its own on a Redis Cluster).
// KEYS sale -> {dropping}: every order of the sale is final, it may go; {gone}: no such sale hash
//    (removed already); {sale_active, status}: an order of the sale is in `status`, which is not final
const Script& begin_drop();
// KEYS stream; ARGV sale_id prefix group after count -> {last entry id read or '', entries removed}:
// the next `count` entries after `after` that belong to the sale (their sale_id field, or their order's)
// are acknowledged in `group` (if not '') and deleted. '' once the end of the stream is reached.
const Script& drop_stream_entries();
// KEYS confirmed order...; ARGV sale_id -> order hashes removed: those of the sale (UNLINK), and their
// entries in the tag's payment-timeout set; keys of another sale are left alone.
const Script& drop_orders();
// KEYS queue changes outcomes confirmed: the tag's streams and set are removed (without its queue no
// process makes its consumer groups again). Only for a tag no other sale has.
const Script& drop_tag();
// KEYS sale: the sale hash goes, last of the sale's keys.
const Script& finish_drop();
// KEYS sale; ARGV remaining [item_id]: the last value flushed to the database, on a sale that still exists
// (with item_id: that item's).
const Script& set_remaining_db();
// KEYS queue outcomes; ARGV queue_group outcome_group -> 1 if the groups exist (made now or before), 0
// if the tag's queue is gone (its sales were archived, drop_tag): nothing is made then. The queue is
// made by create_sale (with its group) before the tag is listed in fg:tags.
const Script& ensure_groups();

// --- moving stock between the buckets of a bucketed sale (BucketMover), each on one bucket's keys ---
// KEYS donor_sale donor_transit; ARGV transfer_id receiver_bucket wanted keep -> units taken (0..wanted):
// as many as leave the donor `keep` units, out of its remaining and into its transit hash
// (transfer_id -> "receiver:units"). A sale hash that is gone gives 0. Counts a move (moves).
const Script& take_stock();
// KEYS receiver_sale receiver_applied; ARGV transfer_id units -> 1 given (a move counted), 0 given before,
// -1 no such bucket.
const Script& give_stock();
// KEYS donor_transit; ARGV transfer_id -> 1 settled, 0 settled before. Only after give_stock.
const Script& settle_stock();
// KEYS sale transit -> {remaining, moves, transfers in transit}; {-1, 0, 0} if the bucket is gone. `moves`
// counts the takes and gives of the bucket: two reads of every bucket with the same moves saw no unit move.
const Script& bucket_state();

// A draw sale's draw (draw_scripts.cpp; RedisDraws runs them in this order). Its keys: the sale hash's
// admission, draw_window_ms, prequeue_ms, entry_opens_at, draw_at, then draw_seed, seeded_at,
// draw_entrants (the count), drawn (1 once applied), drawn_at; fg:{T}:entrants:<sale_id> (set of the
// ENTERED order ids, removed once drawn); an ENTERED order's hash has draw_at.
// KEYS sale entrants; ARGV prefix sale_id seed_hex now -> {seeded, seed, seeded_at, entrants, stock}: the first seed
// stays and closes the entrant set; {early} before draw_at, {drawn}, {not_draw}
const Script& seed_draw();
// KEYS sale entrants; ARGV prefix sale_id cursor count -> {next cursor, order_id user_id quantity entered_at, ...} (SSCAN)
const Script& read_entrants();
// KEYS sale queue changes outcomes; ARGV prefix sale_id now [order_id position]... (position 0: NOT_DRAWN)
// -> orders moved from ENTERED (the others were moved before)
const Script& apply_draw();
// KEYS sale entrants; ARGV prefix sale_id admitted now -> {drawn}; {pending, entered} while an entrant is left; {gone}
const Script& finish_draw();

// Every script above: for the tests that hold them all to one rule.
std::vector<const Script*> all();

}  // namespace flashgate::store::redis::scripts
