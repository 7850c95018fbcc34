// Prints the Redis intake script exactly as the Redis store sends it
// (scripts::intake(): the shared `common` functions and the intake body),
// so that the redis-benchmark reference runs the very same Lua text.
//   dump_intake_script          the script source
//   dump_intake_script --sha1   its SHA-1, as EVALSHA names it
#include <cstdio>
#include <cstring>

#include "store/redis/scripts.hpp"

int main(int argc, char** argv) {
  const auto& script = flashgate::store::redis::scripts::intake();
  if (argc > 1 && std::strcmp(argv[1], "--sha1") == 0) {
    std::printf("%s\n", script.sha1.c_str());
    return 0;
  }
  std::fwrite(script.source.data(), 1, script.source.size(), stdout);
  return 0;
}
