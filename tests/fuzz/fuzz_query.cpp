// Query strings and paths: parameter lookup and routing never crash.
#include "gateway/api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string decoded;
  const flashgate::gateway::QueryParams params(text);
  (void)params.get("ticket", decoded);
  (void)params.get("wait", decoded);
  return 0;
}
