#pragma once
// What popgate does to itself before it reads a secret: files it creates are private, and a crash
// never writes its memory (passwords, tokens, mail) to a core file.

namespace popgate::gateway {

// umask 077 (every file and directory popgate creates is its owner's alone), RLIMIT_CORE 0 (no
// core file) and PR_SET_DUMPABLE 0 (no core dump via a pipe handler either, and other processes
// of the same user cannot ptrace it or read its /proc memory). Call first thing in main; never
// throws (a limit the system refuses leaves the others in place).
void hardenProcess() noexcept;

}  // namespace popgate::gateway
