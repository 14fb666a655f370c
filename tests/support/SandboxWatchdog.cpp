#include "tests/support/SandboxWatchdog.h"

#include <unistd.h>

#include <vector>

namespace popgate::test {

std::unique_ptr<Process> startSandboxWatchdog(const std::filesystem::path& script,
                                              const std::filesystem::path& dir) {
  static const char* const kWatch =
      R"(while kill -0 "$1" 2>/dev/null; do sleep 1; done
bash "$2" stop "$3"
[ "${POPGATE_KEEP_TEMP:-}" = 1 ] || rm -rf "$3")";
  ProcessOptions options;
  options.output_dir = dir / "watchdog";
  return std::make_unique<Process>(
      std::vector<std::string>{"bash", "-c", kWatch, "sandbox-watchdog", std::to_string(::getpid()),
                               script.string(), dir.string()},
      options);
}

}  // namespace popgate::test
