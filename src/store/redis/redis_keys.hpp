#pragma once
// The Redis store's key layout (described in full in scripts.hpp): a sale's
// keys share the hash tag {T} of domain::sale_tag, so that a Redis Cluster
// keeps them in one slot and one script may touch them all. Inline: the
// intake and the poll build their keys here on every call.
#include <string>
#include <string_view>

#include "domain/ids.hpp"

namespace flashgate::store::redis::keys {

// Consumer groups: the windows' on a tag's queue, the outcome log's on its outcome stream.
inline constexpr const char* windows_group = "windows";
inline constexpr const char* mirror_group = "mirror";

// Global keys.
inline constexpr const char* tags = "fg:tags";          // set: every tag with a sale
inline constexpr const char* sales = "fg:sales";        // set: every sale id
inline constexpr const char* dropping = "fg:dropping";  // set: archived sales whose keys are being removed
inline constexpr const char* dropped = "fg:dropped";    // stream: sales removed, for every process to forget

// "fg:{T}:", what the scripts put before a key of the tag (their ARGV prefix).
inline std::string prefix(std::string_view tag) { return "fg:{" + std::string(tag) + "}:"; }

inline std::string sale(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "sale:" + sale_id; }
inline std::string users(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "users:" + sale_id; }
inline std::string held(const std::string& sale_id) { return prefix(domain::sale_tag(sale_id)) + "held:" + sale_id; }
// The same keys of one bucket of a bucketed sale (tag bucket_tags.hpp; bucket 0's are those above).
inline std::string sale_in(std::string_view tag, const std::string& sale_id) { return prefix(tag) + "sale:" + sale_id; }
inline std::string users_in(std::string_view tag, const std::string& sale_id) { return prefix(tag) + "users:" + sale_id; }
inline std::string held_in(std::string_view tag, const std::string& sale_id) { return prefix(tag) + "held:" + sale_id; }
// A bucket's stock moves (see scripts::take_stock): taken and not yet settled; given.
inline std::string transit(std::string_view tag, const std::string& sale_id) { return prefix(tag) + "transit:" + sale_id; }
inline std::string applied(std::string_view tag, const std::string& sale_id) { return prefix(tag) + "applied:" + sale_id; }
// A draw sale's entrants (set of order ids) until its draw is applied.
inline std::string entrants(const std::string& sale_id) {
  return prefix(domain::sale_tag(sale_id)) + "entrants:" + sale_id;
}
inline std::string order(const std::string& order_id) {
  return prefix(domain::tag_of_order(order_id)) + "order:" + order_id;
}
inline std::string queue(std::string_view tag) { return prefix(tag) + "queue"; }
inline std::string changes(std::string_view tag) { return prefix(tag) + "changes"; }
inline std::string confirmed(std::string_view tag) { return prefix(tag) + "confirmed"; }
inline std::string outcomes(std::string_view tag) { return prefix(tag) + "outcomes"; }

}  // namespace flashgate::store::redis::keys
