#include "DatabaseUrl.h"

#include <array>

#include "MessageText.h"
#include "ValueChecks.h"

namespace popgate::config {

namespace {

constexpr std::string_view kExample = "postgresql://popgate@db.example.org:5432/popgate";
constexpr std::array<std::string_view, 6> kSslModes{"disable", "allow", "prefer",
                                                    "require", "verify-ca", "verify-full"};

Parsed<DatabaseUrl> problem(std::string what) { return {std::nullopt, std::move(what)}; }

// User and database names: what PostgreSQL accepts unquoted plus a few safe characters.
bool plainName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Parsed<DatabaseUrl> parseDatabaseUrl(std::string_view text) {
  std::string_view rest = text;
  bool scheme = false;
  for (const std::string_view prefix : {"postgresql://", "postgres://"}) {
    if (rest.starts_with(prefix)) {
      rest.remove_prefix(prefix.size());
      scheme = true;
      break;
    }
  }
  if (!scheme) {
    return problem("expected a URL like " + std::string(kExample) + ", found " + quoteForMessage(text));
  }
  if (rest.find('%') != std::string_view::npos) {
    return problem("percent-escapes are not supported in the URL; user and database names are "
                   "letters, digits, '_', '-' and '.'");
  }
  DatabaseUrl url;
  const std::size_t at = rest.find('@');
  if (at == std::string_view::npos) {
    return problem("the URL names no user: write USER@ before the host, e.g. " + std::string(kExample));
  }
  const std::string_view user = rest.substr(0, at);
  if (user.find(':') != std::string_view::npos) {
    return problem("the URL holds a password; put it in password_file or password_env instead");
  }
  if (!plainName(user)) return problem("bad user name in the URL: " + quoteForMessage(user));
  url.user = std::string(user);
  rest.remove_prefix(at + 1);

  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return problem("the URL names no database: end it with /DBNAME, e.g. " + std::string(kExample));
  }
  std::string_view authority = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return problem("unclosed '[' in the URL's host");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return problem("expected :PORT after the ']' of the URL's host");
      port_text = after.substr(1);
    }
    authority = authority.substr(0, close + 1);
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    port_text = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  auto host = parseHost(authority);
  if (!host.value) return problem("the URL's host: " + host.error);
  url.host = std::move(*host.value);
  if (!port_text.empty()) {
    auto port = parsePort(port_text);
    if (!port.value) return problem("the URL's port: " + port.error);
    url.port = *port.value;
  }

  const std::size_t query = rest.find('?');
  const std::string_view dbname = rest.substr(0, query);
  if (!plainName(dbname)) return problem("bad database name in the URL: " + quoteForMessage(dbname));
  url.dbname = std::string(dbname);
  if (query != std::string_view::npos) {
    std::string_view params = rest.substr(query + 1);
    while (!params.empty()) {
      const std::size_t amp = params.find('&');
      const std::string_view param = params.substr(0, amp);
      params = amp == std::string_view::npos ? std::string_view{} : params.substr(amp + 1);
      if (!param.starts_with("sslmode=")) {
        return problem("unsupported URL parameter " + quoteForMessage(param) + " (only sslmode)");
      }
      const std::string_view mode = param.substr(8);
      bool known = false;
      for (const std::string_view m : kSslModes) known = known || m == mode;
      if (!known) {
        return problem("sslmode must be disable, allow, prefer, require, verify-ca or verify-full, "
                       "found " + quoteForMessage(mode));
      }
      url.sslmode = std::string(mode);
    }
  }
  return {std::move(url), {}};
}

}  // namespace popgate::config
