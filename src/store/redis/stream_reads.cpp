#include "store/redis/stream_reads.hpp"

#include <algorithm>
#include <map>

#include "store/redis/redis_limits.hpp"

namespace flashgate::store::redis {

namespace {

using Streams = std::vector<std::pair<std::string, std::string>>;

Reply read_slot(BlockingLink& link, const std::vector<std::string>& head, std::chrono::milliseconds block,
                std::chrono::milliseconds grace, const Streams& streams, const std::vector<std::size_t>& which) {
  std::vector<std::string> args(head);
  args.reserve(head.size() + 3 + 2 * which.size());
  if (block.count() > 0) {
    args.emplace_back("BLOCK");
    args.push_back(std::to_string(block.count()));
  }
  args.emplace_back("STREAMS");
  for (const auto i : which) args.push_back(streams[i].first);
  for (const auto i : which) args.push_back(streams[i].second);
  return link.command_for_key(streams[which.front()].first, args, block + grace);
}

void take_into(StreamReads::Result& result, Reply reply) {
  if (!reply.ok()) {
    if (result.first_error.type == Reply::Type::nil) result.first_error = std::move(reply);
    return;
  }
  for (auto& stream : reply.elements) result.streams.elements.push_back(std::move(stream));
}

}  // namespace

StreamReads::Result StreamReads::read(BlockingLink& link, const std::vector<std::string>& head,
                                      std::chrono::milliseconds block, std::chrono::milliseconds grace,
                                      const Streams& streams) {
  Result result;
  result.streams.type = Reply::Type::array;
  if (streams.empty()) return result;
  std::map<std::uint16_t, std::vector<std::size_t>> by_slot;
  for (std::size_t i = 0; i < streams.size(); ++i) by_slot[link.slot_of(streams[i].first)].push_back(i);
  if (by_slot.size() == 1) {
    take_into(result, read_slot(link, head, block, grace, streams, by_slot.begin()->second));
    return result;
  }
  for (const auto& [slot, which] : by_slot)
    take_into(result, read_slot(link, head, std::chrono::milliseconds(0), grace, streams, which));
  if (!result.streams.elements.empty() || result.first_error.type != Reply::Type::nil || block.count() == 0)
    return result;
  const auto short_block = std::min(block, limits::slot_block_per_slot * static_cast<int>(by_slot.size()));
  auto blocked_on = by_slot.begin();
  std::advance(blocked_on, static_cast<std::ptrdiff_t>(turn_++ % by_slot.size()));
  take_into(result, read_slot(link, head, short_block, grace, streams, blocked_on->second));
  return result;
}

}  // namespace flashgate::store::redis
