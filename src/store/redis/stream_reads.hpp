#pragma once
// One read of many streams (XREAD, XREADGROUP) on a blocking link, split by
// slot: a Redis Cluster refuses a command whose keys are in different slots
// (CROSSSLOT), and each tag's streams are in a slot of their own.
//   One slot (always, on a single Redis): one command with the full BLOCK,
//   exactly the read of a single Redis.
//   Several: each slot's streams read without blocking; if none had
//   anything, one slot (in turn) is read with a short BLOCK of
//   limits::slot_block_per_slot per slot read, at most the full wait. An
//   entry in a slot not blocked on is seen within that block and one sweep.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
  // streams: (key, id) pairs. Waits at most `block` (+ `grace` for the link).
  Result read(BlockingLink& link, const std::vector<std::string>& head, std::chrono::milliseconds block,
              std::chrono::milliseconds grace, const std::vector<std::pair<std::string, std::string>>& streams);

 private:
  std::size_t turn_ = 0;  // the slot blocked on next, when every slot was empty
};

}  // namespace flashgate::store::redis
