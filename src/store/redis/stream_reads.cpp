#include "store/redis/stream_reads.hpp"

namespace flashgate::store::redis {

void StreamReads::take_into(Result& result, Reply reply) {
  if (!reply.ok()) {
    if (result.first_error.type == Reply::Type::nil) result.first_error = std::move(reply);
    return;
  }
  if (result.streams.elements.empty()) return result.streams.elements.swap(reply.elements);
  for (auto& stream : reply.elements) result.streams.elements.push_back(std::move(stream));
}

}  // namespace flashgate::store::redis
