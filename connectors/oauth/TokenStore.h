#pragma once
// The refresh tokens popgate keeps itself, in state_dir/oauth/ (docs/oauth.md "Refresh tokens"):
// the one `popgate authorize` obtained, and every rotated one an endpoint returned. One JSON file
// per credential, mode 0600 in a 0700 directory, replaced atomically and durably (temporary file,
// fsync, rename, fsync of the directory), so a crash leaves the old token or the new one, never a
// torn file and never neither.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "connectors/common/Secret.h"

namespace popgate::oauth {

class TokenStore {
 public:
  struct Entry {
    Secret refresh_token;
    // SHA-256 (hex) of the configured refresh token this one descends from; "" when none was
    // configured. A configured token with another hash is newer than this entry and wins.
    std::string seed_sha256;
    std::int64_t obtained_at = 0;  // unix seconds: when this refresh token was received
    std::int64_t rotated_at = 0;   // unix seconds of the last rotation; 0 when never rotated
    std::string origin;            // "authorize" or "rotation"
  };

  // `dir` is state_dir/oauth; created (0700) on the first save.
  explicit TokenStore(std::filesystem::path dir);

  // The entry for credential `id` ([A-Za-z0-9_.-]+, e.g. "account-work", "target"), or nullopt
  // when there is none. Throws Error(Internal) when the file exists but cannot be read or parsed.
  std::optional<Entry> load(const std::string& id) const;
  // Replaces the entry of `id` atomically and durably. Throws Error(Internal) when it cannot.
  void save(const std::string& id, const Entry& entry) const;
  // The file that holds `id`'s entry.
  std::filesystem::path fileFor(const std::string& id) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace popgate::oauth
