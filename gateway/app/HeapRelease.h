#pragma once
// What the daemon does so that memory it no longer uses goes back to the system: a process polling
// thousands of accounts is judged by its resident set, and glibc's allocator keeps what was freed.

namespace popgate::gateway {

// Blocks of 256 KiB and more get pages of their own (mmap), handed back the moment they are freed
// (a /metrics text of thousands of accounts, a big message), instead of glibc's default, which
// raises that threshold after the first such block and then keeps the pages. Call once, before
// the daemon's threads start; never throws.
void keepBigBlocksApart() noexcept;

// Hands the free pages of every heap back to the system (malloc_trim): for after loading a
// configuration, whose parse tree is gone by then. Never throws.
void releaseFreedMemory() noexcept;

}  // namespace popgate::gateway
