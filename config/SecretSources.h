#pragma once
// Reading passwords and tokens at load time from where the configuration says they are. Errors
// name the key and the file or variable, never the value. Internal to config/.

#include <filesystem>
#include <string>
#include <string_view>

#include "ConfigLoader.h"
#include "Secret.h"
#include "YamlCursor.h"

namespace popgate::config {

// A secret and a description of where it came from ("password_env WORK_POP_PASSWORD").
struct ResolvedSecret {
  Secret value;
  std::string source;
};

// The inline value at `where` (`password:`, `client_secret:`); throws when it is empty or holds a
// line break or NUL. The source reads "KEY (inline in config)".
ResolvedSecret inlineSecret(const YamlCursor& where, std::string_view key = "password");

// The content of `file` (already resolved) for the key at `where` (password_file, token_file),
// with trailing CR/LF removed; throws when missing, unreadable, empty or longer than one line.
ResolvedSecret secretFromFile(const YamlCursor& where, std::string_view key,
                              const std::filesystem::path& file);

// The variable named at `where` (password_env, client_secret_env, ...); throws when the name is
// invalid, or the variable is not set, empty or holds a line break or NUL. The source reads
// "KEY NAME".
ResolvedSecret secretFromEnv(const YamlCursor& where, const EnvLookup& env,
                             std::string_view key = "password_env");

}  // namespace popgate::config
