#pragma once
// How the scripts' text is made (scripts.cpp, archive_scripts.cpp): the
// limits the Lua shares with the C++ are named in it as @NAME@ and filled in
// from redis_limits.hpp, once per script, so that the text Redis runs (and
// its SHA-1) is as if they were written out.
#include <string>

#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::scripts {

std::string with_limits(std::string lua);
// A script of this body alone.
inline Script plain(const char* body) { return Script(with_limits(body)); }

}  // namespace flashgate::store::redis::scripts
