#include "platform/free_memory.hpp"

#include <dlfcn.h>
#include <malloc.h>

namespace flashgate::platform {

void release_free_memory() {
  // Looked up rather than called by name: the library is linked with
  // tcmalloc only into the binary (FLASHGATE_TCMALLOC), not the unit tests.
  using Release = void (*)();
  static const auto tcmalloc_release =
      reinterpret_cast<Release>(dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory"));
  if (tcmalloc_release) tcmalloc_release();
  else malloc_trim(0);
}

}  // namespace flashgate::platform
