// Query strings and paths: parameter lookup and routing never crash.
#include "gateway/api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string decoded;
  (void)flashgate::gateway::query_param(text, "ticket", decoded);
  (void)flashgate::gateway::query_param(text, "wait", decoded);
  return 0;
}
