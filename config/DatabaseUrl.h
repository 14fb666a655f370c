#pragma once
// The `database.url` of the shared ledger: postgresql://USER@HOST[:PORT]/DBNAME[?sslmode=MODE]
// (also postgres://). Pure function: no YAML, no file names, never given a password.

#include <cstdint>
#include <string>
#include <string_view>

#include "Parsed.h"

namespace popgate::config {

struct DatabaseUrl {
  std::string user;
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 5432;
  std::string dbname;
  std::string sslmode;  // empty when not given
};

// Parses `text`. A password inside the URL is refused (it belongs in password_file or
// password_env), as are parameters other than sslmode and percent-escapes (names are plain here).
Parsed<DatabaseUrl> parseDatabaseUrl(std::string_view text);

}  // namespace popgate::config
