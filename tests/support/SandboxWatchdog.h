#pragma once
// The cleaner of a sandbox whose test died: a test killed by ctest's timeout, or crashing, never
// runs its destructors, and its daemonized servers would keep running.

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/Process.h"

namespace popgate::test {

// Starts a child (in a process group of its own) that waits for this process to end, then runs
// `bash script stop dir` and removes `dir` (kept with POPGATE_KEEP_TEMP=1). Its stdout/stderr
// go to dir/watchdog. Destroy the returned Process (it is killed) once the owner stops the
// servers itself.
std::unique_ptr<Process> startSandboxWatchdog(const std::filesystem::path& script,
                                              const std::filesystem::path& dir);

}  // namespace popgate::test
