#include "ConfigLoader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <sstream>
#include <cstdlib>
#include <system_error>

#include <sys/stat.h>

#include "DatabaseUrl.h"
#include "MessageText.h"
#include "OAuthKeys.h"
#include "SecretSources.h"
#include "TextFile.h"
#include "Units.h"
#include "ValueChecks.h"
#include "YamlCursor.h"

namespace popgate::config {

namespace {

using namespace std::chrono_literals;
using Entries = std::vector<YamlEntry>;

constexpr std::array<std::string_view, 13> kTopKeys{
    "state_dir", "log_level", "log_format", "max_parallel_polls", "stall_timeout",
    "admin",     "database",  "target",     "targets",            "defaults",
    "allow_readable_secrets", "accounts", "notify"};
constexpr std::array<std::string_view, 3> kNotifyKeys{"after", "mailbox", "webhook"};
constexpr std::array<std::string_view, 5> kDatabaseKeys{"url", "password", "password_file",
                                                        "password_env", "lease_ttl"};
constexpr std::array<std::string_view, 3> kAdminKeys{"listen", "token_file", "allowed_hosts"};
constexpr std::array<std::string_view, 19> kTargetKeys{
    "host",          "port",         "tls",  "ca_file",     "username", "password",
    "password_file", "password_env", "auth", "connections", "timeout",  "daily_upload_limit",
    // OAuth 2.0 (docs/oauth.md)
    "oauth",         "provider",     "tenant",
    // kind: gmail-api (docs/gmail.md)
    "kind", "never_mark_spam", "process_for_calendar", "api_url"};
// Keys that mean an IMAP server, refused for kind: gmail-api.
constexpr std::array<std::string_view, 7> kImapOnlyKeys{
    "host", "port", "tls", "auth", "password", "password_file", "password_env"};
constexpr std::array<std::string_view, 3> kGmailApiOnlyKeys{"never_mark_spam",
                                                            "process_for_calendar", "api_url"};
constexpr std::array<std::string_view, 2> kTargetKindNames{"imap", "gmail-api"};
constexpr std::array<TargetKind, 2> kTargetKindValues{TargetKind::Imap, TargetKind::GmailApi};
constexpr std::array<std::string_view, 24> kAccountKeys{"name",
                                                        "target",
                                                        "host",
                                                        "port",
                                                        "tls",
                                                        "ca_file",
                                                        "username",
                                                        "password",
                                                        "password_file",
                                                        "password_env",
                                                        "auth",
                                                        "folder",
                                                        "poll_interval",
                                                        "keep",
                                                        "delete_after_days",
                                                        "max_message_size",
                                                        "flags",
                                                        "timeout",
                                                        "listing_limit",
                                                        "backlog",
                                                        "dedupe",
                                                        // OAuth 2.0 (docs/oauth.md)
                                                        "oauth",
                                                        "provider",
                                                        "tenant"};
constexpr std::array<std::string_view, 3> kSecretKeys{"password", "password_file", "password_env"};

constexpr std::array<std::string_view, 3> kTlsNames{"implicit", "starttls", "none"};
constexpr std::array<TlsMode, 3> kTlsValues{TlsMode::Implicit, TlsMode::StartTls, TlsMode::None};
constexpr std::array<std::string_view, 4> kLogLevelNames{"error", "warning", "info", "debug"};
constexpr std::array<LogLevel, 4> kLogLevelValues{LogLevel::Error, LogLevel::Warning,
                                                  LogLevel::Info, LogLevel::Debug};
constexpr std::array<std::string_view, 2> kLogFormatNames{"text", "json"};
constexpr std::array<LogFormat, 2> kLogFormatValues{LogFormat::Text, LogFormat::Json};
constexpr std::array<std::string_view, 6> kPopAuthNames{"auto",  "user",    "apop",
                                                        "plain", "xoauth2", "oauthbearer"};
constexpr std::array<PopAuth, 6> kPopAuthValues{PopAuth::Auto,    PopAuth::User,
                                                PopAuth::Apop,    PopAuth::Plain,
                                                PopAuth::XOAuth2, PopAuth::OAuthBearer};
constexpr std::array<std::string_view, 5> kImapAuthNames{"auto", "login", "plain", "xoauth2",
                                                         "oauthbearer"};
constexpr std::array<ImapAuth, 5> kImapAuthValues{ImapAuth::Auto, ImapAuth::Login, ImapAuth::Plain,
                                                  ImapAuth::XOAuth2, ImapAuth::OAuthBearer};
constexpr std::array<std::string_view, 2> kDedupeNames{"none", "message-id"};
constexpr std::array<Dedupe, 2> kDedupeValues{Dedupe::None, Dedupe::MessageId};

constexpr std::size_t kMaxConfigBytes = std::size_t{1024} * 1024;
constexpr std::uint64_t kMaxParallelPolls = 64;
constexpr std::uint64_t kMaxConnections = 32;
constexpr std::uint32_t kGmailConnections = 4;
constexpr std::uint64_t kGmailDailyUpload = 500ull * 1024 * 1024;
constexpr std::uint64_t kMaxDeleteAfterDays = 36500;
constexpr std::uint64_t kMinMessageSize = 1024;
constexpr std::uint64_t kMaxListingLimit = 10'000'000;
constexpr std::chrono::seconds kMinPollInterval = 1s;
constexpr std::chrono::seconds kMaxPollInterval = 168h;
constexpr std::chrono::seconds kMinTimeout = 1s;
constexpr std::chrono::seconds kMaxTimeout = 1h;
constexpr std::chrono::seconds kMinLeaseTtl = 5s;
constexpr std::chrono::seconds kMaxLeaseTtl = 1h;
constexpr std::chrono::seconds kMinStallTimeout = 10s;
constexpr std::chrono::seconds kMaxStallTimeout = 1h;
constexpr std::chrono::seconds kMinNotifyAfter = 1s;
constexpr std::chrono::seconds kMaxNotifyAfter = 168h;

template <typename E, std::size_t N>
E pick(const YamlCursor& where, const std::array<std::string_view, N>& names,
       const std::array<E, N>& values) {
  return values[where.choice(names)];
}

bool isSecretKey(std::string_view key) {
  for (const std::string_view secret : kSecretKeys) {
    if (secret == key) return true;
  }
  return false;
}

// Exactly one of password, password_file, password_env (none is fine when not `required`).
void checkOneSecret(const YamlCursor& mapping, const Entries& settings, bool required) {
  const YamlEntry* first = nullptr;
  for (const auto& entry : settings) {
    if (!isSecretKey(entry.key)) continue;
    if (first != nullptr) {
      entry.value.fail("conflicts with " + first->key + " (line " +
                       std::to_string(first->value.line()) +
                       "); use exactly one of password, password_file, password_env");
    }
    first = &entry;
  }
  if (first == nullptr && required) {
    mapping.failMissing("password", " (or password_file, or password_env)");
  }
}

// The account's own keys, then each default the account does not set. The three password keys
// count as one setting: an account that names any of them ignores those of defaults (and the
// oauth section of defaults). An account with its own oauth section ignores the password keys of
// defaults, and gets the oauth section of defaults as a second entry, merged key by key later.
Entries mergeDefaults(const Entries& own, const Entries& defaults) {
  Entries merged = own;
  bool own_secret = false;
  for (const auto& entry : own) own_secret = own_secret || isSecretKey(entry.key);
  const bool own_oauth = findEntry(own, "oauth") != nullptr;
  for (const auto& entry : defaults) {
    if (isSecretKey(entry.key) && (own_secret || own_oauth)) continue;
    if (entry.key == "oauth" && own_secret) continue;
    if (entry.key == "oauth" && own_oauth) {
      merged.push_back(entry);
      continue;
    }
    if (findEntry(own, entry.key) != nullptr) continue;
    merged.push_back(entry);
  }
  return merged;
}

// keep: false deletes right after upload, so a delete_after_days > 0 would be silently ignored.
void checkKeepPolicy(const Entries& settings, const PopAccount& account) {
  if (account.keep || account.delete_after_days == 0) return;
  const YamlCursor* keep = findEntry(settings, "keep");
  const YamlCursor* days = findEntry(settings, "delete_after_days");
  days->fail("conflicts with keep: false (line " + std::to_string(keep->line()) +
             "), which deletes messages right after upload; set keep: true or remove this key");
}

class Loader {
 public:
  Loader(std::string name, std::filesystem::path base_dir, const EnvLookup& env)
      : name_(std::move(name)), base_dir_(std::move(base_dir)), env_(env) {}

  GatewayConfig load(const std::string& yaml) const;

 private:
  // Notes where a secret came from (once per file; inline ones once per key).
  void noteSecret(const YamlCursor& where, const std::filesystem::path& file) const;
  YAML::Node parseDocument(const std::string& yaml) const;
  std::filesystem::path resolve(const YamlCursor& where) const;
  std::filesystem::path readableFile(const YamlCursor& where) const;
  std::filesystem::path stateDir(const YamlCursor& where) const;
  AdminConfig admin(const YamlCursor& where) const;
  NotifyConfig notify(const YamlCursor& where) const;
  DatabaseConfig database(const YamlCursor& where) const;
  ImapTarget target(const YamlCursor& where) const;
  std::vector<ImapTarget> targets(const YamlCursor& where) const;
  void resolveTarget(const YamlCursor& where, const Entries& settings, const GatewayConfig& cfg,
                     PopAccount& account) const;
  Entries defaults(const YamlCursor& where) const;
  std::vector<PopAccount> accounts(const YamlCursor& where, const Entries& defaults,
                                   const GatewayConfig& cfg) const;
  PopAccount account(const YamlCursor& where, const Entries& own, const Entries& defaults,
                     const GatewayConfig& cfg) const;
  // A target with kind: gmail-api: username and oauth, no IMAP server keys.
  ImapTarget gmailApiTarget(const YamlCursor& where, const Entries& settings) const;
  void checkEndpoint(const YamlCursor& mapping, const Entries& settings,
                     const ProviderChoice& provider) const;
  // Password or OAuth, as `auth` says: exactly one password key, or an oauth section and none.
  void finishCredentials(const YamlCursor& mapping, const Entries& settings,
                         std::string_view auth_name, bool oauth_auth,
                         const ProviderChoice& provider, ServerSide side,
                         ServerEndpoint& server) const;
  PathRules paths() const;
  void finishEndpoint(const Entries& settings, ServerEndpoint& server, std::uint16_t implicit_port,
                      std::uint16_t plain_port) const;
  bool applyEndpointKey(const YamlEntry& entry, ServerEndpoint& server) const;
  void applyAccountKey(const YamlEntry& entry, PopAccount& account) const;

  std::string name_;
  std::filesystem::path base_dir_;
  const EnvLookup& env_;
  mutable std::vector<SecretFile> secret_files_;
};

// The permission bits of `file` (symbolic links followed, as a reader sees it); 0 when it cannot
// be examined (it was just read, so that is a race nobody wins anything from).
std::uint32_t permissionsOf(const std::filesystem::path& file) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return static_cast<std::uint32_t>(st.st_mode) & 07777u;
}

// Notes where a document starts and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  YAML::Mark start = YAML::Mark::null_mark();
};

YAML::Node Loader::parseDocument(const std::string& yaml) const {
  // Not YAML::LoadAll: yaml-cpp 0.7 returns endless empty documents for input like "{}," (and
  // allocates until the OOM killer ends it; found by fuzzing). Load the first document, then ask a
  // parser whether a second one exists, reading at most two.
  YAML::Node document;
  try {
    document = YAML::Load(yaml);
    std::istringstream stream(yaml);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts)) {
      failInFile(name_, starts.start.is_null() ? 0 : starts.start.line + 1,
                 "a second YAML document ('---') begins here; popgate reads exactly one");
    }
  } catch (const YAML::DeepRecursion& e) {
    failInFile(name_, e.mark.is_null() ? 0 : e.mark.line + 1,
               "YAML nesting too deep (more than yaml-cpp's limit of 2000 levels)");
  } catch (const YAML::Exception& e) {
    failInFile(name_, e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg);
  }
  if (document.IsNull()) {
    failInFile(name_, 0, "the file holds no settings; expected state_dir, target and accounts");
  }
  return document;
}

GatewayConfig Loader::load(const std::string& yaml) const {
  const YamlCursor root = YamlCursor::document(parseDocument(yaml), name_);
  if (!root.node().IsMap()) {
    root.fail(std::string("expected a mapping (key: value lines) with state_dir, target and ") +
              "accounts, found " + (root.node().IsSequence() ? "a list" : "a single value"));
  }
  const Entries top = root.entries(kTopKeys);
  GatewayConfig cfg;
  cfg.source = name_;
  if (const YamlCursor* v = findEntry(top, "state_dir")) cfg.state_dir = stateDir(*v);
  if (const YamlCursor* v = findEntry(top, "log_level")) {
    cfg.log_level = pick(*v, kLogLevelNames, kLogLevelValues);
  }
  if (const YamlCursor* v = findEntry(top, "log_format")) {
    cfg.log_format = pick(*v, kLogFormatNames, kLogFormatValues);
  }
  if (const YamlCursor* v = findEntry(top, "max_parallel_polls")) {
    cfg.max_parallel_polls = static_cast<std::uint32_t>(v->number(1, kMaxParallelPolls));
  }
  if (const YamlCursor* v = findEntry(top, "stall_timeout")) {
    cfg.stall_timeout = v->duration(kMinStallTimeout, kMaxStallTimeout);
  }
  if (const YamlCursor* v = findEntry(top, "allow_readable_secrets")) {
    cfg.allow_readable_secrets = v->boolean();
  }
  if (const YamlCursor* v = findEntry(top, "admin")) cfg.admin = admin(*v);
  if (const YamlCursor* v = findEntry(top, "notify")) cfg.notify = notify(*v);
  if (const YamlCursor* v = findEntry(top, "database")) cfg.database = database(*v);
  const YamlCursor* single = findEntry(top, "target");
  const YamlCursor* named = findEntry(top, "targets");
  if (single != nullptr && named != nullptr) {
    named->fail("conflicts with target (line " + std::to_string(single->line()) +
                "); write target: for one central mailbox or targets: for several, not both");
  }
  if (single != nullptr) {
    cfg.targets.push_back(target(*single));
    cfg.targets.back().name = kSingleTargetName;
  }
  if (named != nullptr) {
    cfg.targets = targets(*named);
    cfg.named_targets = true;
  }
  Entries shared;
  if (const YamlCursor* v = findEntry(top, "defaults")) shared = defaults(*v);
  if (const YamlCursor* v = findEntry(top, "accounts")) cfg.accounts = accounts(*v, shared, cfg);
  // Missing sections last, so that a typo inside a present one is reported with its suggestion.
  if (findEntry(top, "state_dir") == nullptr) root.failMissing("state_dir");
  if (single == nullptr && named == nullptr) root.failMissing("target", " (or targets)");
  if (findEntry(top, "accounts") == nullptr) root.failMissing("accounts");
  cfg.secret_files = secret_files_;
  return cfg;
}

void Loader::noteSecret(const YamlCursor& where, const std::filesystem::path& file) const {
  for (const SecretFile& known : secret_files_) {
    if (file.empty() ? known.key == where.path() : known.file == file) return;
  }
  secret_files_.push_back(
      SecretFile{where.path(), where.line(), file, file.empty() ? 0 : permissionsOf(file)});
}

std::filesystem::path Loader::resolve(const YamlCursor& where) const {
  const std::string text = where.nonEmptyText();
  if (hasLineBreakOrNul(text)) where.fail("a path must not contain a line break or NUL byte");
  if (text == "~" || text.starts_with("~/")) {
    where.fail("'~' is not expanded here; write the full path");
  }
  const std::filesystem::path path(text);
  return (path.is_absolute() ? path : base_dir_ / path).lexically_normal();
}

std::filesystem::path Loader::readableFile(const YamlCursor& where) const {
  std::filesystem::path path = resolve(where);
  const std::string reason = unreadableReason(path);
  if (!reason.empty()) where.fail("cannot read " + printable(path.string()) + ": " + reason);
  return path;
}

std::filesystem::path Loader::stateDir(const YamlCursor& where) const {
  std::filesystem::path path = resolve(where);
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    where.fail(printable(path.string()) + " exists and is not a directory");
  }
  return path;
}

AdminConfig Loader::admin(const YamlCursor& where) const {
  const Entries entries = where.entries(kAdminKeys);
  AdminConfig admin;
  if (const YamlCursor* v = findEntry(entries, "listen")) {
    if (v->node().IsSequence()) {
      v->fail("expected host:port; in YAML an IPv6 address needs quotes: listen: '[::1]:8025'");
    }
    auto parsed = parseListen(v->text());
    if (!parsed.value) v->fail(parsed.error);
    admin.host = std::move(parsed.value->host);
    admin.port = parsed.value->port;
  }
  if (const YamlCursor* v = findEntry(entries, "token_file")) {
    const std::filesystem::path path = resolve(*v);
    ResolvedSecret token = secretFromFile(*v, "token_file", path);
    for (const char c : token.value.reveal()) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte <= 0x20 || byte == 0x7f) {
        v->fail(printable(path.string()) + " holds spaces or control characters; a bearer " +
                "token cannot");
      }
    }
    admin.token_file = path;
    admin.token = std::move(token.value);
    noteSecret(*v, path);
  }
  if (const YamlCursor* v = findEntry(entries, "allowed_hosts")) {
    if (v->node().IsScalar()) {
      v->fail("expected a list of host names, e.g. [popgate, popgate.example]");
    }
    for (const YamlCursor& item : v->elements()) {
      auto host = parseHost(item.text());
      if (!host.value) item.fail(host.error);
      admin.allowed_hosts.push_back(std::move(*host.value));
    }
  }
  return admin;
}

NotifyConfig Loader::notify(const YamlCursor& where) const {
  const Entries entries = where.entries(kNotifyKeys);
  NotifyConfig notify;
  if (const YamlCursor* v = findEntry(entries, "after")) {
    notify.after = v->duration(kMinNotifyAfter, kMaxNotifyAfter);
  }
  if (const YamlCursor* v = findEntry(entries, "mailbox")) {
    notify.mailbox = v->text();
    if (const std::string problem = folderProblem(*notify.mailbox); !problem.empty()) {
      v->fail(problem);
    }
  }
  if (const YamlCursor* v = findEntry(entries, "webhook")) {
    auto url = parseWebhookUrl(v->text());
    if (!url.value) v->fail(url.error);
    notify.webhook = std::move(*url.value);
  }
  if (!notify.mailbox && !notify.webhook) {
    where.fail("names neither mailbox nor webhook: notices would go nowhere; set one of them or "
               "remove the section");
  }
  return notify;
}

void Loader::checkEndpoint(const YamlCursor& mapping, const Entries& settings,
                           const ProviderChoice& provider) const {
  if (findEntry(settings, "host") == nullptr && provider.provider == Provider::None) {
    mapping.failMissing("host");
  }
  if (findEntry(settings, "username") == nullptr) mapping.failMissing("username");
  checkOneSecret(mapping, settings, false);
}

PathRules Loader::paths() const {
  return PathRules{
      [this](const YamlCursor& v) { return resolve(v); },
      [this](const YamlCursor& v) { return readableFile(v); },
      [this](const YamlCursor& v, const std::filesystem::path& file) { noteSecret(v, file); }};
}

void Loader::finishCredentials(const YamlCursor& mapping, const Entries& settings,
                               std::string_view auth_name, bool oauth_auth,
                               const ProviderChoice& provider, ServerSide side,
                               ServerEndpoint& server) const {
  std::vector<YamlCursor> layers;
  for (const auto& entry : settings) {
    if (entry.key == "oauth") layers.push_back(entry.value);
  }
  if (!oauth_auth) {
    if (!layers.empty()) {
      layers.front().fail("is only used with auth: xoauth2 or oauthbearer (auth is " +
                          std::string(auth_name) + ")");
    }
    checkOneSecret(mapping, settings, true);
    return;
  }
  for (const auto& entry : settings) {
    if (!isSecretKey(entry.key)) continue;
    entry.value.fail("auth: " + std::string(auth_name) +
                     " signs in with an OAuth access token, not a password; remove " + entry.key);
  }
  if (layers.empty()) {
    mapping.failMissing("oauth", " (auth: " + std::string(auth_name) +
                                     " needs oauth: {client_id: ..., refresh_token_file: ...}; "
                                     "see docs/oauth.md)");
  }
  server.oauth = parseOAuth(layers, presetFor(provider, side), paths(), env_, true,
                            &server.preset_filled);
  server.password_source = "OAuth 2.0";
}

void Loader::finishEndpoint(const Entries& settings, ServerEndpoint& server,
                            std::uint16_t implicit_port, std::uint16_t plain_port) const {
  if (findEntry(settings, "port") == nullptr) {
    server.port = server.tls == TlsMode::Implicit ? implicit_port : plain_port;
    if (server.provider != Provider::None) {
      server.preset_filled.push_back("port " + std::to_string(server.port));
    }
  }
}

bool Loader::applyEndpointKey(const YamlEntry& entry, ServerEndpoint& server) const {
  const YamlCursor& v = entry.value;
  const std::string& key = entry.key;
  if (key == "host") {
    auto host = parseHost(v.text());
    if (!host.value) v.fail(host.error);
    server.host = std::move(*host.value);
  } else if (key == "port") {
    server.port = static_cast<std::uint16_t>(v.number(1, 65535));
  } else if (key == "tls") {
    server.tls = pick(v, kTlsNames, kTlsValues);
  } else if (key == "ca_file") {
    server.ca_file = readableFile(v);
  } else if (key == "username") {
    server.username = v.nonEmptyText();
    if (hasLineBreakOrNul(server.username)) v.fail("must not contain a line break or NUL byte");
  } else if (key == "password" || key == "password_file" || key == "password_env") {
    const std::filesystem::path file =
        key == "password_file" ? resolve(v) : std::filesystem::path();
    ResolvedSecret secret = key == "password"        ? inlineSecret(v)
                            : key == "password_file" ? secretFromFile(v, key, file)
                                                     : secretFromEnv(v, env_);
    if (key != "password_env") noteSecret(v, file);
    server.password = std::move(secret.value);
    server.password_source = std::move(secret.source);
  } else if (key == "timeout") {
    server.timeout = v.duration(kMinTimeout, kMaxTimeout);
  } else {
    return false;
  }
  return true;
}

ImapTarget Loader::target(const YamlCursor& where) const {
  const Entries settings = where.entries(kTargetKeys);
  const ProviderChoice provider = providerOf(settings);
  if (const YamlCursor* kind = findEntry(settings, "kind");
      kind != nullptr && pick(*kind, kTargetKindNames, kTargetKindValues) == TargetKind::GmailApi) {
    return gmailApiTarget(where, settings);
  }
  for (const auto& entry : settings) {
    for (const std::string_view key : kGmailApiOnlyKeys) {
      if (entry.key == key) entry.value.fail("is only used with kind: gmail-api");
    }
  }
  checkEndpoint(where, settings, provider);
  ImapTarget target;
  for (const auto& entry : settings) {
    if (applyEndpointKey(entry, target.server)) continue;
    if (entry.key == "auth") {
      target.auth = pick(entry.value, kImapAuthNames, kImapAuthValues);
    } else if (entry.key == "connections") {
      target.connections = static_cast<std::uint32_t>(entry.value.number(1, kMaxConnections));
    } else if (entry.key == "daily_upload_limit") {
      target.daily_upload_limit = entry.value.size(kMinMessageSize);
    }
  }
  if (applyPreset(provider, ServerSide::Target, settings, target.server)) {
    target.auth = ImapAuth::XOAuth2;
    target.server.preset_filled.push_back("auth xoauth2");
  }
  // Target-only keys the gmail preset sets, each only when not written: 4 connections (Gmail
  // allows about 15 per user, shared with the user's phones and laptops) and its documented IMAP
  // upload cap of 500 MB a day.
  if (provider.provider == Provider::Gmail) {
    if (findEntry(settings, "connections") == nullptr) {
      target.connections = kGmailConnections;
      target.server.preset_filled.push_back("connections " + std::to_string(kGmailConnections));
    }
    if (findEntry(settings, "daily_upload_limit") == nullptr) {
      target.daily_upload_limit = kGmailDailyUpload;
      target.server.preset_filled.push_back("daily_upload_limit " + formatSize(kGmailDailyUpload));
    }
  }
  finishEndpoint(settings, target.server, 993, 143);
  finishCredentials(where, settings, imapAuthName(target.auth), isOAuth(target.auth), provider,
                    ServerSide::Target, target.server);
  return target;
}

ImapTarget Loader::gmailApiTarget(const YamlCursor& where, const Entries& settings) const {
  for (const auto& entry : settings) {
    for (const std::string_view key : kImapOnlyKeys) {
      if (entry.key != key) continue;
      entry.value.fail("is not used with kind: gmail-api (it signs in with oauth and talks to "
                       "Google's API over HTTPS; see docs/gmail.md)");
    }
  }
  if (findEntry(settings, "username") == nullptr) where.failMissing("username");
  if (findEntry(settings, "oauth") == nullptr) {
    where.failMissing("oauth", " (kind: gmail-api signs in with OAuth 2.0: oauth: {client_id: ..., "
                               "refresh_token_file: ...}; see docs/gmail.md)");
  }
  ImapTarget target;
  target.kind = TargetKind::GmailApi;
  target.auth = ImapAuth::XOAuth2;  // a bearer token from the oauth section
  target.api_url = std::string(kGmailApiUrl);
  for (const auto& entry : settings) {
    const YamlCursor& v = entry.value;
    if (applyEndpointKey(entry, target.server)) continue;
    if (entry.key == "connections") {
      target.connections = static_cast<std::uint32_t>(v.number(1, kMaxConnections));
    } else if (entry.key == "daily_upload_limit") {
      target.daily_upload_limit = v.size(kMinMessageSize);
    } else if (entry.key == "never_mark_spam") {
      target.never_mark_spam = v.boolean();
    } else if (entry.key == "process_for_calendar") {
      target.process_for_calendar = v.boolean();
    } else if (entry.key == "api_url") {
      target.api_url = v.nonEmptyText();
      while (!target.api_url.empty() && target.api_url.back() == '/') target.api_url.pop_back();
      const std::string_view scheme = "https://";
      if (target.api_url.compare(0, scheme.size(), scheme) != 0 ||
          target.api_url.size() == scheme.size() || hasLineBreakOrNul(target.api_url) ||
          target.api_url.find(' ') != std::string::npos) {
        v.fail("expected an https:// URL (the Gmail API's base, for tests)");
      }
    }
  }
  // For /status and the log: where the requests go (the host of api_url, port 443 unless given).
  std::string rest = target.api_url.substr(8);
  rest = rest.substr(0, rest.find('/'));
  target.server.port = 443;
  if (const std::size_t colon = rest.rfind(':');
      colon != std::string::npos && rest.find(']') == std::string::npos) {
    target.server.port = static_cast<std::uint16_t>(std::strtoul(rest.c_str() + colon + 1, nullptr, 10));
    rest.resize(colon);
  }
  target.server.host = rest;
  target.server.tls = TlsMode::Implicit;
  // Google is the provider whatever is written: its authorization flow, its refresh-token hints.
  const ProviderChoice provider = providerOf(settings);
  if (provider.provider != Provider::None && provider.provider != Provider::Gmail) {
    findEntry(settings, "provider")->fail("kind: gmail-api is Google's; leave provider out or write gmail");
  }
  target.server.provider = Provider::Gmail;
  finishCredentials(where, settings, "gmail-api", true, ProviderChoice{Provider::Gmail, {}},
                    ServerSide::GmailApi, target.server);
  return target;
}

std::vector<ImapTarget> Loader::targets(const YamlCursor& where) const {
  if (!where.node().IsMap()) {
    where.fail("expected a mapping of named targets, e.g. anna: {host: ..., username: ...}");
  }
  std::vector<ImapTarget> out;
  for (const YamlEntry& entry : where.namedEntries()) {
    if (const std::string problem = accountNameProblem(entry.key); !problem.empty()) {
      entry.value.fail("bad target name: " + problem);
    }
    out.push_back(target(entry.value));
    out.back().name = entry.key;
  }
  if (out.empty()) where.fail("must name at least one target");
  return out;
}

DatabaseConfig Loader::database(const YamlCursor& where) const {
  const Entries settings = where.entries(kDatabaseKeys);
  const YamlCursor* url_entry = findEntry(settings, "url");
  if (url_entry == nullptr) where.failMissing("url", " (e.g. postgresql://popgate@db.example.org/popgate)");
  checkOneSecret(where, settings, false);
  DatabaseConfig db;
  const std::string text = url_entry->nonEmptyText();
  auto url = parseDatabaseUrl(text);
  if (!url.value) url_entry->fail(url.error);
  db.url = text;
  db.host = std::move(url.value->host);
  db.port = url.value->port;
  db.user = std::move(url.value->user);
  db.dbname = std::move(url.value->dbname);
  db.sslmode = std::move(url.value->sslmode);
  for (const auto& entry : settings) {
    const YamlCursor& v = entry.value;
    if (entry.key == "lease_ttl") {
      db.lease_ttl = v.duration(kMinLeaseTtl, kMaxLeaseTtl);
    } else if (isSecretKey(entry.key)) {
      ResolvedSecret secret = entry.key == "password"        ? inlineSecret(v)
                              : entry.key == "password_file" ? secretFromFile(v, entry.key, resolve(v))
                                                             : secretFromEnv(v, env_);
      db.password = std::move(secret.value);
      db.password_source = std::move(secret.source);
    }
  }
  return db;
}

void Loader::resolveTarget(const YamlCursor& where, const Entries& settings,
                           const GatewayConfig& cfg, PopAccount& account) const {
  const YamlCursor* named = findEntry(settings, "target");
  if (!cfg.named_targets) {
    if (named != nullptr) {
      named->fail("names a target, but this file has one unnamed target:; name them under "
                  "targets: to give accounts different ones");
    }
    if (!cfg.targets.empty()) account.target = cfg.targets.front().name;
    return;
  }
  std::string known;
  std::vector<std::string_view> names;
  for (const ImapTarget& t : cfg.targets) {
    known += (known.empty() ? "" : ", ") + t.name;
    names.push_back(t.name);
  }
  if (named == nullptr) {
    where.fail("names no target; add target: NAME (one of " + known +
               "), or a default one as defaults.target");
  }
  account.target = named->nonEmptyText();
  if (cfg.findTarget(account.target) == nullptr) {
    const auto suggestion = nearMiss(account.target, names);
    named->fail("unknown target " + quoteForMessage(account.target) +
                (suggestion ? " (did you mean " + std::string(*suggestion) + "?)"
                            : " (targets: " + known + ")"));
  }
}

void Loader::applyAccountKey(const YamlEntry& entry, PopAccount& account) const {
  if (applyEndpointKey(entry, account.server)) return;
  const YamlCursor& v = entry.value;
  const std::string& key = entry.key;
  if (key == "name") {
    account.name = v.text();
    if (const std::string problem = accountNameProblem(account.name); !problem.empty()) {
      v.fail(problem);
    }
  } else if (key == "target") {
    if (const std::string problem = accountNameProblem(v.text()); !problem.empty()) {
      v.fail(problem);
    }
  } else if (key == "auth") {
    account.auth = pick(v, kPopAuthNames, kPopAuthValues);
  } else if (key == "folder") {
    account.folder = v.text();
    if (const std::string problem = folderProblem(account.folder); !problem.empty()) {
      v.fail(problem);
    }
  } else if (key == "poll_interval") {
    account.poll_interval = v.duration(kMinPollInterval, kMaxPollInterval);
  } else if (key == "keep") {
    account.keep = v.boolean();
  } else if (key == "delete_after_days") {
    account.delete_after_days = static_cast<std::uint32_t>(v.number(0, kMaxDeleteAfterDays));
  } else if (key == "max_message_size") {
    account.max_message_size = v.size(kMinMessageSize);
  } else if (key == "listing_limit") {
    account.listing_limit = static_cast<std::uint32_t>(v.number(1, kMaxListingLimit));
  } else if (key == "backlog") {
    const Parsed<BacklogRule> rule = parseBacklog(v.text());
    if (!rule.value) v.fail(rule.error);
    account.backlog = rule.value->kind;
    account.backlog_since = rule.value->since;
  } else if (key == "dedupe") {
    account.dedupe = pick(v, kDedupeNames, kDedupeValues);
  } else if (key == "flags") {
    if (v.node().IsScalar()) v.fail("expected a list of flags, e.g. ['\\Seen']");
    account.flags.clear();
    for (const YamlCursor& item : v.elements()) {
      auto flag = parseImapFlag(item.text());
      if (!flag.value) item.fail(flag.error);
      bool seen = false;
      for (const auto& earlier : account.flags) seen = seen || earlier == *flag.value;
      if (!seen) account.flags.push_back(std::move(*flag.value));
    }
  }
}

Entries Loader::defaults(const YamlCursor& where) const {
  Entries entries = where.entries(kAccountKeys);
  if (const YamlCursor* v = findEntry(entries, "name")) {
    v->fail("cannot have a default; give each account its own name");
  }
  checkOneSecret(where, entries, false);
  providerOf(entries);
  PopAccount scratch;  // checks every default once, even those all accounts override
  for (const auto& entry : entries) applyAccountKey(entry, scratch);
  if (const YamlCursor* oauth = findEntry(entries, "oauth")) {
    parseOAuth({*oauth}, {}, paths(), env_, false);  // partial: accounts complete it
  }
  checkKeepPolicy(entries, scratch);
  return entries;
}

PopAccount Loader::account(const YamlCursor& where, const Entries& own, const Entries& defaults,
                           const GatewayConfig& cfg) const {
  if (findEntry(own, "name") == nullptr) where.failMissing("name");
  const Entries settings = mergeDefaults(own, defaults);
  const ProviderChoice provider = providerOf(settings);
  checkEndpoint(where, settings, provider);
  PopAccount account;
  for (const auto& entry : settings) applyAccountKey(entry, account);
  checkKeepPolicy(settings, account);
  resolveTarget(where, settings, cfg, account);
  if (const ImapTarget* target = cfg.findTarget(account.target);
      target != nullptr && target->kind == TargetKind::GmailApi &&
      account.dedupe == Dedupe::MessageId) {
    findEntry(settings, "dedupe")->fail(
        "message-id searches the target for copies, which a kind: gmail-api target cannot do "
        "without a read scope; move with a kind: imap target, or use backlog: none or since "
        "(docs/gmail.md)");
  }
  if (applyPreset(provider, ServerSide::Account, settings, account.server)) {
    account.auth = PopAuth::XOAuth2;
    account.server.preset_filled.push_back("auth xoauth2");
  }
  finishEndpoint(settings, account.server, 995, 110);
  finishCredentials(where, settings, popAuthName(account.auth), isOAuth(account.auth), provider,
                    ServerSide::Account, account.server);
  return account;
}

std::vector<PopAccount> Loader::accounts(const YamlCursor& where, const Entries& defaults,
                                         const GatewayConfig& cfg) const {
  if (where.node().IsMap()) {
    where.fail("expected a list of accounts, each item starting with '- name:'; found a mapping");
  }
  const std::vector<YamlCursor> items = where.elements();
  if (items.empty()) where.fail("must list at least one account");
  std::vector<PopAccount> out;
  std::vector<int> name_lines;
  for (const YamlCursor& item : items) {
    const Entries own = item.entries(kAccountKeys);
    PopAccount account = this->account(item, own, defaults, cfg);
    const YamlCursor* name = findEntry(own, "name");
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].name == account.name) {
        name->fail(quoteForMessage(account.name) + " is already the name of " + items[i].path() +
                   " (line " + std::to_string(name_lines[i]) + ")");
      }
    }
    name_lines.push_back(name->line());
    out.push_back(std::move(account));
  }
  return out;
}

}  // namespace

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

GatewayConfig loadConfigText(const std::string& yaml, const std::string& name,
                             const std::filesystem::path& base_dir, const EnvLookup& env) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::absolute(base_dir, ec);
  if (ec) base = base_dir;
  try {
    return Loader(name, base.lexically_normal(), env).load(yaml);
  } catch (const YAML::Exception& e) {  // not expected past parsing; still never a raw trace
    failInFile(name, e.mark.is_null() ? 0 : e.mark.line + 1, "YAML error: " + e.msg);
  }
}

GatewayConfig loadConfig(const std::filesystem::path& file, const EnvLookup& env) {
  const std::string name = file.string();
  auto content = readTextFile(file, kMaxConfigBytes);
  if (!content.value) failInFile(name, 0, "cannot read the file: " + content.error);
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(file, ec);
  if (ec) absolute = file;
  absolute = absolute.lexically_normal();
  GatewayConfig cfg = loadConfigText(*content.value, name, absolute.parent_path(), env);
  cfg.source = absolute;
  // An inline password makes the config file itself a secret file.
  for (SecretFile& secret : cfg.secret_files) {
    if (!secret.file.empty()) continue;
    secret.file = absolute;
    secret.mode = permissionsOf(absolute);
  }
  return cfg;
}

}  // namespace popgate::config
