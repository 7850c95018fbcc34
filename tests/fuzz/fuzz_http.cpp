// Bytes in, response out, through the whole API in process. A 500 for any
// input is a bug, like a crash.
#include <cstdlib>

#include "../support/in_process_app.hpp"

namespace {

flashgate::testing::InProcessApp& app() {
  static auto* instance = [] {
    auto* a = new flashgate::testing::InProcessApp();
    // A sale to buy from, so that inputs can reach the intake path.
    a->serve(
        "POST /api/admin/sales HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-admin-token\r\n"
        "Content-Length: 45\r\n\r\n{\"sale_id\":\"s1\",\"item\":\"thing\",\"stock\":100}");
    return a;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string answer =
      app().serve(std::string_view(reinterpret_cast<const char*>(data), size), std::chrono::milliseconds(200));
  if (answer.rfind("HTTP/1.1 500", 0) == 0 || answer.rfind("HTTP/1.0 500", 0) == 0) std::abort();
  return 0;
}
