#pragma once
// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell the
// I/O threads from the SQLite writer and the windows. Linux keeps at most 15
// bytes; longer names are cut, not refused.
#include <pthread.h>

#include <string>
#include <string_view>

namespace flashgate::platform {

inline void name_this_thread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace flashgate::platform
