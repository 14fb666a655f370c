// Fuzz target: config::loadConfigText (docs/configuration.md) on arbitrary YAML text.
// The input is the whole file. Relative paths resolve against an empty temporary directory made
// once per process; every password_env variable has one fixed value.
// Checks, beyond "no crash, no sanitizer report, no hang":
//  - the loader either returns a config or throws popgate::Error of kind Config; any other
//    exception escapes and is reported by libFuzzer (and the replay) as a crash;
//  - an Error's text names the file first ("fuzz.yaml:LINE: ..." or "fuzz.yaml: ..."), fits in
//    one or two lines, and never holds the environment secret (unless the YAML text itself does:
//    the loader may quote the file);
//  - a loaded config has state_dir and a target host, and describe()/warnings() run on it
//    without ever printing the environment secret (same exception), warnings one line each.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "config/ConfigLoader.h"
#include "connectors/common/Error.h"

namespace {

using popgate::fuzz::check;

constexpr std::string_view kName = "fuzz.yaml";
constexpr std::string_view kEnvSecret = "Zq9-popgate-fuzz-env-secret-7Xk";

void removeBaseDir();

// An empty directory for the process's lifetime, removed at exit.
const std::filesystem::path& emptyBaseDir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = std::filesystem::temp_directory_path() / "popgate-config-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) popgate::fuzz::failCheck("mkdtemp failed");
    return std::filesystem::path(pattern);
  }();
  // Registered after `dir` is built, so it runs before `dir` is destroyed.
  [[maybe_unused]] static const int registered = std::atexit(removeBaseDir);
  return dir;
}

void removeBaseDir() {
  std::error_code ec;
  std::filesystem::remove_all(emptyBaseDir(), ec);
}

void checkError(const popgate::Error& error, bool secret_in_input) {
  const std::string_view text = error.what();
  check(error.kind() == popgate::ErrorKind::Config, "loader error of a kind other than Config",
        text);
  check(text.starts_with(std::string(kName) + ":"), "error text does not name the file", text);
  const std::size_t first = text.find('\n');
  check(first == std::string_view::npos || text.find('\n', first + 1) == std::string_view::npos ||
            text.find('\n', first + 1) == text.size() - 1,
        "error text longer than two lines", text);
  if (!secret_in_input) {
    check(text.find(kEnvSecret) == std::string_view::npos, "error text holds a secret", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  // The loader may quote the file (an unknown key, a bad value): the secret only counts as
  // leaked when it came from the environment, not from the text itself.
  const bool secret_in_input = yaml.find(kEnvSecret) != std::string::npos;
  const popgate::config::EnvLookup env = [](const std::string&) -> std::optional<std::string> {
    return std::string(kEnvSecret);
  };
  try {
    const popgate::config::GatewayConfig cfg =
        popgate::config::loadConfigText(yaml, std::string(kName), emptyBaseDir(), env);
    check(!cfg.state_dir.empty() && cfg.state_dir.is_absolute(), "config without state_dir");
    check(!cfg.target.server.host.empty(), "config without a target host");
    const std::string summary = popgate::config::describe(cfg);
    check(secret_in_input || summary.find(kEnvSecret) == std::string::npos,
          "describe() prints a secret", summary);
    for (const std::string& line : popgate::config::warnings(cfg)) {
      check(secret_in_input || line.find(kEnvSecret) == std::string::npos,
            "warnings() print a secret", line);
      check(line.find('\n') == std::string::npos, "a warning holds a newline", line);
    }
  } catch (const popgate::Error& error) {
    checkError(error, secret_in_input);
  }
  return 0;
}
