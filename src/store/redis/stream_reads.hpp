#pragma once
// One read of many streams (XREAD, XREADGROUP) on a blocking link, split by
// slot: a Redis Cluster refuses a command whose keys are in different slots
// (CROSSSLOT), and each tag's streams are in a slot of their own.
//   One slot (always, on a single Redis): one command with the full BLOCK,
//   exactly the read of a single Redis, built without a copy more.
//   Several: each slot's streams read without blocking; if none had
//   anything, one slot (in turn) is read with a short BLOCK of
//   limits::slot_block_per_slot per slot read, at most the full wait. An
//   entry in a slot not blocked on is seen within that block and one sweep.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/redis/redis_limits.hpp"
#include "store/redis/redis_link.hpp"
#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis {

class StreamReads {
 public:
  struct Result {
    Reply streams;      // array of [stream, entries] as XREAD answers, the slots' answers together
    Reply first_error;  // nil, or the first error a slot's read answered
  };

  // head: the command up to COUNT n ("XREAD COUNT n", "XREADGROUP GROUP g c COUNT n");
  // streams: (key, id) pairs, a map or a vector of them. Waits at most
  // `block` (+ `grace` for the link).
  template <class Streams>
  Result read(BlockingLink& link, const std::vector<std::string>& head, std::chrono::milliseconds block,
              std::chrono::milliseconds grace, const Streams& streams) {
    Result result;
    result.streams.type = Reply::Type::array;
    if (streams.empty()) return result;
    const auto first_slot = link.slot_of(streams.begin()->first);
    bool one_slot = true;
    for (const auto& [key, id] : streams) one_slot = one_slot && link.slot_of(key) == first_slot;
    if (one_slot) {
      take_into(result, read_one(link, head, block, grace, streams.begin(), streams.end()));
      return result;
    }
    std::map<std::uint16_t, std::vector<std::pair<std::string, std::string>>> by_slot;
    for (const auto& [key, id] : streams) by_slot[link.slot_of(key)].emplace_back(key, id);
    for (const auto& [slot, group] : by_slot)
      take_into(result, read_one(link, head, std::chrono::milliseconds(0), grace, group.begin(), group.end()));
    if (!result.streams.elements.empty() || result.first_error.type != Reply::Type::nil || block.count() == 0)
      return result;
    const auto short_block = std::min(block, limits::slot_block_per_slot * static_cast<int>(by_slot.size()));
    auto blocked_on = by_slot.begin();
    std::advance(blocked_on, static_cast<std::ptrdiff_t>(turn_++ % by_slot.size()));
    take_into(result,
              read_one(link, head, short_block, grace, blocked_on->second.begin(), blocked_on->second.end()));
    return result;
  }

 private:
  template <class It>
  static Reply read_one(BlockingLink& link, const std::vector<std::string>& head, std::chrono::milliseconds block,
                        std::chrono::milliseconds grace, It begin, It end) {
    std::vector<std::string> args;
    args.reserve(head.size() + 3 + 2 * static_cast<std::size_t>(std::distance(begin, end)));
    args.insert(args.end(), head.begin(), head.end());
    if (block.count() > 0) {
      args.emplace_back("BLOCK");
      args.push_back(std::to_string(block.count()));
    }
    args.emplace_back("STREAMS");
    for (auto it = begin; it != end; ++it) args.push_back(it->first);
    for (auto it = begin; it != end; ++it) args.push_back(it->second);
    return link.command_for_key(begin->first, args, block + grace);
  }
  static void take_into(Result& result, Reply reply);

  std::size_t turn_ = 0;  // the slot blocked on next, when every slot was empty
};

}  // namespace flashgate::store::redis
