#pragma once
// Hands memory the process freed back to the system, whichever allocator
// the binary was linked with: tcmalloc (the release build) keeps freed spans
// in its page heap and gives them back only slowly, glibc keeps free chunks
// in its arenas. Costs a walk of the allocator's free lists: for rare events
// (a sale leaving the store), never per request.
namespace flashgate::platform {

void release_free_memory();

}  // namespace flashgate::platform
