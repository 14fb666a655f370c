#include "OAuthKeys.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <chrono>
#include <system_error>

#include "MessageText.h"
#include "SecretSources.h"
#include "ValueChecks.h"

namespace popgate::config {

namespace {

constexpr std::array<std::string_view, 3> kProviderNames{"gmail", "microsoft365", "outlook"};
constexpr std::array<Provider, 3> kProviderValues{Provider::Gmail, Provider::Microsoft365,
                                                  Provider::Outlook};
constexpr std::array<std::string_view, 3> kClientSecretKeys{"client_secret", "client_secret_file",
                                                            "client_secret_env"};
constexpr std::array<std::string_view, 2> kRefreshTokenKeys{"refresh_token_file",
                                                            "refresh_token_env"};
// The keys of an oauth section, plus two that people write and that deserve a better answer than
// "unknown key": tokens do not belong in the configuration file.
constexpr std::array<std::string_view, 11> kOAuthKeysAndMistakes{
    "token_url",          "client_id",         "client_secret",
    "client_secret_file", "client_secret_env", "refresh_token_file",
    "refresh_token_env",  "scope",             "ca_file",
    "refresh_token",      "access_token"};
constexpr std::size_t kMaxTenant = 100;
constexpr std::size_t kMaxUrl = 2048;

// The presets (docs/oauth.md "Provider presets" gives the sources). Microsoft's token URL takes
// the tenant in place of {tenant}.
struct Preset {
  Provider provider;
  std::string_view pop_host, imap_host;
  std::string_view token_url;
  std::string_view pop_scope, imap_scope;
};
constexpr std::string_view kMicrosoftTokenUrl =
    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";
constexpr std::array<Preset, 3> kPresets{{
    {Provider::Gmail, "pop.gmail.com", "imap.gmail.com", "https://oauth2.googleapis.com/token",
     "https://mail.google.com/", "https://mail.google.com/"},
    {Provider::Microsoft365, "outlook.office365.com", "outlook.office365.com", kMicrosoftTokenUrl,
     "https://outlook.office.com/POP.AccessAsUser.All offline_access",
     "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"},
    {Provider::Outlook, "outlook.office365.com", "outlook.office365.com", kMicrosoftTokenUrl,
     "https://outlook.office.com/POP.AccessAsUser.All offline_access",
     "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"},
}};

bool isTenantChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool isPasswordKey(std::string_view key) {
  return key == "password" || key == "password_file" || key == "password_env";
}

bool hasControlBytes(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// The group a key belongs to (the secret alternatives count as one key), or the key itself.
std::string_view groupOf(std::string_view key) {
  for (const std::string_view k : kClientSecretKeys) {
    if (k == key) return "client_secret";
  }
  for (const std::string_view k : kRefreshTokenKeys) {
    if (k == key) return "refresh_token";
  }
  return key;
}

std::string groupChoices(std::string_view group) {
  if (group == "client_secret") return "client_secret, client_secret_file or client_secret_env";
  return "refresh_token_file or refresh_token_env";
}

bool isLoopbackAddress(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

std::optional<std::chrono::system_clock::time_point> writtenAt(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return std::nullopt;
  return std::chrono::system_clock::from_time_t(info.st_mtim.tv_sec);
}

}  // namespace

ProviderChoice providerOf(const std::vector<YamlEntry>& settings) {
  ProviderChoice choice;
  if (const YamlCursor* v = findEntry(settings, "provider")) {
    choice.provider = kProviderValues[v->choice(kProviderNames)];
  }
  const YamlCursor* tenant = findEntry(settings, "tenant");
  if (tenant != nullptr) {
    if (choice.provider != Provider::Microsoft365) {
      tenant->fail(choice.provider == Provider::Outlook
                       ? "outlook always uses the tenant 'consumers'; remove tenant"
                       : "only provider: microsoft365 takes a tenant");
    }
    choice.tenant = tenant->nonEmptyText();
    bool ok = choice.tenant.size() <= kMaxTenant && isTenantChar(choice.tenant.front());
    for (const char c : choice.tenant) ok = ok && isTenantChar(c);
    if (!ok) {
      tenant->fail("expected a tenant: organizations, common, a directory (tenant) ID or a domain, "
                   "found " + quoteForMessage(choice.tenant));
    }
  }
  if (choice.provider == Provider::Microsoft365 && choice.tenant.empty()) {
    choice.tenant = "organizations";
  }
  if (choice.provider == Provider::Outlook) choice.tenant = "consumers";
  return choice;
}

PresetValues presetFor(const ProviderChoice& choice, ServerSide side) {
  if (side == ServerSide::GmailApi) {
    // users.messages.import needs gmail.insert; labels.list and labels.create need gmail.labels;
    // the search for a message in doubt after a crash (users.messages.list with q, and .get with
    // format=raw) needs gmail.readonly: without it that message could only be imported again.
    return PresetValues{"", "https://oauth2.googleapis.com/token",
                        "https://www.googleapis.com/auth/gmail.insert "
                        "https://www.googleapis.com/auth/gmail.labels "
                        "https://www.googleapis.com/auth/gmail.readonly"};
  }
  for (const Preset& preset : kPresets) {
    if (preset.provider != choice.provider) continue;
    PresetValues values;
    values.host = std::string(side == ServerSide::Account ? preset.pop_host : preset.imap_host);
    values.token_url = std::string(preset.token_url);
    if (const std::size_t at = values.token_url.find("{tenant}"); at != std::string::npos) {
      values.token_url.replace(at, 8, choice.tenant);
    }
    values.scope = std::string(side == ServerSide::Account ? preset.pop_scope : preset.imap_scope);
    return values;
  }
  return {};
}

bool applyPreset(const ProviderChoice& choice, ServerSide side,
                 const std::vector<YamlEntry>& settings, ServerEndpoint& server) {
  server.provider = choice.provider;
  server.tenant = choice.tenant;
  if (choice.provider == Provider::None) return false;
  const PresetValues values = presetFor(choice, side);
  if (findEntry(settings, "host") == nullptr) {
    server.host = values.host;
    server.preset_filled.push_back("host " + values.host);
  }
  if (findEntry(settings, "tls") == nullptr) {
    server.tls = TlsMode::Implicit;
    server.preset_filled.push_back("tls implicit");
  }
  // Presets of target-only keys (the gmail preset's connections and upload budget) belong to
  // ImapTarget: the loader's target() fills them right after this call.
  if (findEntry(settings, "auth") != nullptr) return false;
  bool password = false;
  for (const auto& entry : settings) password = password || isPasswordKey(entry.key);
  return findEntry(settings, "oauth") != nullptr || !password;
}

Parsed<std::string> parseTokenUrl(std::string_view text) {
  Parsed<std::string> out;
  if (text.size() > kMaxUrl || hasControlBytes(text) || text.find(' ') != std::string_view::npos) {
    out.error = "expected an https:// URL without spaces or control characters";
    return out;
  }
  const bool https = text.starts_with("https://");
  if (!https && !text.starts_with("http://")) {
    out.error = "expected an https:// URL, found " + quoteForMessage(text);
    return out;
  }
  std::string_view rest = text.substr(https ? 8 : 7);
  const std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, end);
  if (rest.find('#') != std::string_view::npos) {
    out.error = "a token_url has no #fragment";
    return out;
  }
  if (authority.find('@') != std::string_view::npos) {
    out.error = "user:password@ in token_url is not supported; use client_id and client_secret";
    return out;
  }
  std::string_view host_text = authority;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      out.error = "unclosed [ in the host of " + quoteForMessage(text);
      return out;
    }
    host_text = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        out.error = "unexpected text after ] in " + quoteForMessage(text);
        return out;
      }
      port_text = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host_text = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  auto host = parseHost(host_text);
  if (!host.value) {
    out.error = host.error;
    return out;
  }
  if (!port_text.empty() || authority.ends_with(':')) {
    auto port = parsePort(port_text);
    if (!port.value) {
      out.error = port.error;
      return out;
    }
  }
  if (!https && !isLoopbackAddress(*host.value)) {
    out.error = "http:// is only accepted for a loopback address (127.0.0.1, [::1]); the token "
                "endpoint of a provider is https://";
    return out;
  }
  out.value = std::string(text);
  return out;
}

OAuthSettings parseOAuth(const std::vector<YamlCursor>& layers, const PresetValues& preset,
                         const PathRules& paths, const EnvLookup& env, bool complete,
                         std::vector<std::string>* preset_filled) {
  // Merge the layers: per key (or secret group), the first layer that writes it.
  std::vector<YamlEntry> chosen;
  for (const YamlCursor& layer : layers) {
    const std::vector<YamlEntry> entries = layer.entries(kOAuthKeysAndMistakes);
    for (const auto& entry : entries) {
      if (entry.key == "refresh_token") {
        entry.value.fail("a refresh token does not go into the configuration file: name a file "
                         "(refresh_token_file) or a variable (refresh_token_env), or run popgate "
                         "authorize, which stores it in state_dir");
      }
      if (entry.key == "access_token") {
        entry.value.fail("popgate gets access tokens itself from token_url with the refresh "
                         "token; remove access_token");
      }
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const std::string_view group = groupOf(entries[i].key);
      if (group == entries[i].key) continue;
      for (std::size_t j = 0; j < i; ++j) {
        if (groupOf(entries[j].key) != group) continue;
        entries[i].value.fail("conflicts with " + entries[j].key + " (line " +
                              std::to_string(entries[j].value.line()) + "); use exactly one of " +
                              groupChoices(group));
      }
    }
    const std::size_t earlier_layers = chosen.size();
    for (const auto& entry : entries) {
      bool taken = false;
      for (std::size_t k = 0; k < earlier_layers; ++k) {
        taken = taken || groupOf(chosen[k].key) == groupOf(entry.key);
      }
      if (!taken) chosen.push_back(entry);
    }
  }

  OAuthSettings oauth;
  for (const auto& entry : chosen) {
    const YamlCursor& v = entry.value;
    const std::string& key = entry.key;
    if (key == "token_url") {
      auto url = parseTokenUrl(v.nonEmptyText());
      if (!url.value) v.fail(url.error);
      oauth.token_url = std::move(*url.value);
    } else if (key == "client_id") {
      oauth.client_id = v.nonEmptyText();
      if (hasControlBytes(oauth.client_id)) v.fail("must not contain control characters");
    } else if (key == "client_secret" || key == "client_secret_file" || key == "client_secret_env") {
      const std::filesystem::path file =
          key == "client_secret_file" ? paths.resolve(v) : std::filesystem::path();
      ResolvedSecret secret = key == "client_secret"        ? inlineSecret(v, key)
                              : key == "client_secret_file" ? secretFromFile(v, key, file)
                                                            : secretFromEnv(v, env, key);
      if (key != "client_secret_env" && paths.note_secret) paths.note_secret(v, file);
      oauth.client_secret = std::move(secret.value);
      oauth.client_secret_source = std::move(secret.source);
    } else if (key == "refresh_token_file") {
      const std::filesystem::path file = paths.resolve(v);
      std::error_code ec;
      if (!std::filesystem::exists(file, ec)) {
        v.fail("cannot read " + printable(file.string()) +
               ": No such file or directory (leave refresh_token_file out and run popgate "
               "authorize: it stores the refresh token in state_dir)");
      }
      ResolvedSecret secret = secretFromFile(v, key, file);
      if (paths.note_secret) paths.note_secret(v, file);
      oauth.refresh_token = std::move(secret.value);
      oauth.refresh_token_source = std::move(secret.source);
      oauth.refresh_token_written = writtenAt(file);
    } else if (key == "refresh_token_env") {
      ResolvedSecret secret = secretFromEnv(v, env, key);
      oauth.refresh_token = std::move(secret.value);
      oauth.refresh_token_source = std::move(secret.source);
    } else if (key == "scope") {
      oauth.scope = v.nonEmptyText();
      if (hasControlBytes(oauth.scope)) v.fail("must not contain control characters");
    } else if (key == "ca_file") {
      oauth.ca_file = paths.readable_file(v);
    }
  }
  if (!complete) return oauth;
  const YamlCursor& where = layers.front();
  if (oauth.token_url.empty()) {
    if (preset.token_url.empty()) {
      where.failMissing("token_url",
                        " (or set provider: gmail, microsoft365 or outlook, which knows it)");
    }
    oauth.token_url = preset.token_url;
    if (preset_filled != nullptr) preset_filled->push_back("oauth.token_url " + preset.token_url);
  }
  if (oauth.client_id.empty()) {
    where.failMissing("client_id", " (the OAuth client (app) ID registered with the provider)");
  }
  if (oauth.scope.empty() && !preset.scope.empty()) {
    oauth.scope = preset.scope;
    if (preset_filled != nullptr) preset_filled->push_back("oauth.scope " + preset.scope);
  }
  return oauth;
}

}  // namespace popgate::config
