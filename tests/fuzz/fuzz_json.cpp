// Request bodies: the strict JSON reader and the field readers never crash.
#include "gateway/json_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flashgate::gateway;
  auto body = parse_json_object(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body) return 0;
  (void)only_fields(body.value(), {"sale_id", "item", "stock", "starts_at", "ends_at"});
  (void)required_string(body.value(), "sale_id");
  (void)optional_string(body.value(), "starts_at");
  (void)required_integer(body.value(), "stock");
  return 0;
}
