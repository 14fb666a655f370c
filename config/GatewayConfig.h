#pragma once
// The validated configuration (docs/configuration.md). Plain data: every field is checked and
// every default applied by ConfigLoader, so the rest of popgate never second-guesses a value.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "OAuthSettings.h"
#include "Secret.h"
#include "connectors/common/HostPort.h"
#include "connectors/common/TlsMode.h"

namespace popgate::config {

enum class LogLevel { Error, Warning, Info, Debug };
enum class LogFormat { Text, Json };
enum class PopAuth { Auto, User, Apop, Plain, XOAuth2, OAuthBearer };
enum class ImapAuth { Auto, Login, Plain, XOAuth2, OAuthBearer };
// What a first pass does with the mail already on the server (moving off another fetcher).
enum class Backlog { All, None, Since };
// Whether a new message is first looked for in the target by its Message-ID.
enum class Dedupe { None, MessageId };

// Where a server is and how to reach it. The password is resolved at load time.
struct ServerEndpoint {
  std::string host;        // IPv6 literals without brackets
  std::uint16_t port = 0;  // the default for `tls` when not written
  TlsMode tls = TlsMode::Implicit;
  std::optional<std::filesystem::path> ca_file;  // absolute; checked readable at load time
  std::string username;
  Secret password;
  std::string password_source;  // "password_file /run/secrets/x", "password_env X",
                                // "password (inline in config)"; never the value
  std::chrono::seconds timeout{60};
  // With auth: xoauth2 | oauthbearer, where access tokens come from (then there is no password).
  std::optional<OAuthSettings> oauth;
  Provider provider = Provider::None;
  std::string tenant;                     // microsoft365 and outlook: the token endpoint's tenant
  std::vector<std::string> preset_filled;  // what the preset set, "host pop.gmail.com", for check
};

struct PopAccount {
  std::string name;  // unique, [A-Za-z0-9_.-]+
  // The name of the target (central mailbox) its messages go to: one of GatewayConfig::targets.
  std::string target;
  ServerEndpoint server;
  PopAuth auth = PopAuth::Auto;
  std::string folder = "INBOX";  // UTF-8; encoded by the IMAP client
  std::chrono::seconds poll_interval{300};
  bool keep = true;
  std::uint32_t delete_after_days = 0;  // only with keep: true; 0 = never
  std::uint64_t max_message_size = 35ull * 1024 * 1024;
  // The most messages the maildrop may list: a longer listing fails the pass with a clear error
  // rather than costing unbounded memory (about 100 bytes a message are kept).
  std::uint32_t listing_limit = 200000;
  std::vector<std::string> flags;  // validated IMAP flags, e.g. "\\Seen"
  // All: every message is delivered. None: what the first pass lists stays on the server, never
  // imported or deleted. Since: the same for messages whose Date: is before backlog_since.
  Backlog backlog = Backlog::All;
  std::int64_t backlog_since = 0;  // Since: unix seconds of 00:00 UTC of the day written
  Dedupe dedupe = Dedupe::None;
};

// How messages reach a target: IMAP APPEND, or Gmail's REST import (docs/gmail.md).
enum class TargetKind { Imap, GmailApi };

// Where a gmail-api target's requests go unless `api_url` says otherwise (tests: a scripted server).
inline constexpr std::string_view kGmailApiUrl = "https://gmail.googleapis.com";

struct ImapTarget {
  // Its key under `targets:`; the single unnamed `target:` is called kSingleTargetName.
  std::string name;
  TargetKind kind = TargetKind::Imap;
  ServerEndpoint server;
  ImapAuth auth = ImapAuth::Auto;
  std::uint32_t connections = 4;  // 1..32
  // Bytes the target may receive per rolling 24 hours (Gmail: about 500 MB over IMAP); uploads
  // pause when it is spent and resume as the window moves on. 0: no limit.
  std::uint64_t daily_upload_limit = 0;
  // kind: gmail-api only (docs/gmail.md): the import's neverMarkSpam and processForCalendar, and
  // the API's base URL (https://; only tests point it elsewhere).
  bool never_mark_spam = false;
  bool process_for_calendar = true;
  std::string api_url;
};

// "imap" or "gmail-api".
std::string_view targetKindName(TargetKind kind) noexcept;

struct AdminConfig {
  std::string host = "127.0.0.1";  // IPv6 literals without brackets
  std::uint16_t port = 8025;
  std::optional<std::filesystem::path> token_file;  // absolute
  Secret token;  // read from token_file at load time; empty when none
  // Host names (besides the listen address, and localhost for a loopback or wildcard one) that
  // requests may name in their Host header (compared without case). Other names get 421, so a web
  // page cannot reach the endpoint by pointing a name of its own at it (DNS rebinding).
  std::vector<std::string> allowed_hosts;
};

// An http(s) URL for webhook notices, taken apart. Plain http only to a loopback host.
struct WebhookUrl {
  bool https = true;
  std::string host;        // IPv6 literals without brackets
  std::uint16_t port = 0;  // 443 or 80 when not written
  std::string target;      // path and query, "/" at least
  std::string text;        // for `popgate check` and logs: scheme and authority only, the path
                           // shown as "/..." (a topic in the path can be a secret)
};

// Notices to the user about failing accounts and quarantined messages (the `notify` section).
struct NotifyConfig {
  // How long an account must keep failing before it gets a notice (1s..168h).
  std::chrono::seconds after{3600};
  std::optional<std::string> mailbox;    // a folder of the target to append notices to
  std::optional<WebhookUrl> webhook;     // POSTed to (ntfy-compatible: Title header, text body)
};

// A place a secret was read from (password_file, token_file, or the config file itself for an
// inline `password:`), with its permission bits: a secret others can read is warned about, and
// refused by run/once unless allow_readable_secrets is set.
struct SecretFile {
  std::string key;              // "accounts[0].password_file", "target.password", ...
  int line = 0;                 // of the key in the config file; 0 when unknown
  std::filesystem::path file;   // the file read (for an inline password: the config file)
  std::uint32_t mode = 0;       // st_mode & 07777 of the file (symbolic links followed)

  // Whether the group or others may read the file (mode & 044).
  bool readableByOthers() const noexcept { return (mode & 044u) != 0; }
};

// The name the one unnamed `target:` goes by (status, metrics, the ledger's upload history).
inline constexpr const char* kSingleTargetName = "target";

// The shared ledger in PostgreSQL (`database:`), for replicas; absent: SQLite in state_dir.
struct DatabaseConfig {
  std::string url;  // as written, without a password: postgresql://USER@HOST[:PORT]/DB
  std::string host;
  std::uint16_t port = 5432;
  std::string user;
  std::string dbname;
  std::string sslmode;  // ?sslmode=... of the URL; empty: libpq's default
  Secret password;      // empty when none was configured (trust or peer authentication)
  std::string password_source;
  // How long a replica's hold on an account lasts without renewal (renewed every third of it).
  std::chrono::seconds lease_ttl{30};
};

struct GatewayConfig {
  std::filesystem::path source;     // the file it was read from (absolute), or the name
                                    // given to loadConfigText()
  std::filesystem::path state_dir;  // absolute
  LogLevel log_level = LogLevel::Info;
  LogFormat log_format = LogFormat::Text;
  std::uint32_t max_parallel_polls = 4;  // 1..64
  // How long the scheduler may go without making progress before /healthz answers 503 and the
  // systemd watchdog is no longer fed (10s..1h).
  std::chrono::seconds stall_timeout{60};
  // Accept secret files (and a config with an inline password) that others may read.
  bool allow_readable_secrets = false;
  // Every file a secret was read from, once each (the config file for inline passwords, when the
  // configuration came from a file).
  std::vector<SecretFile> secret_files;
  std::optional<AdminConfig> admin;
  std::optional<NotifyConfig> notify;  // none: no notices
  std::optional<DatabaseConfig> database;  // none: the ledger is SQLite in state_dir
  // The central mailboxes: the one `target:` (named kSingleTargetName), or those of `targets:`
  // in file order. Never empty once loaded.
  std::vector<ImapTarget> targets;
  bool named_targets = false;  // written as `targets:` (accounts name theirs)
  std::vector<PopAccount> accounts;

  // The account called `name`, or nullptr.
  const PopAccount* findAccount(const std::string& name) const;
  // The target called `name`, or nullptr.
  const ImapTarget* findTarget(const std::string& name) const;
  // The target `account` delivers to (ConfigLoader checked that it exists). Throws
  // Error(Internal) for an account of another configuration.
  const ImapTarget& targetOf(const PopAccount& account) const;
  // How long a replica taking over an account from a lapsed lease waits before its first pass:
  // the longest `timeout` of the targets, the time popgate itself gives a server to answer (the
  // bytes the last holder had sent have that long to reach the target and be stored).
  std::chrono::seconds takeoverGrace() const;
};

// The words the YAML file uses for each value: "implicit", "starttls", "none"; "info"; "apop"...
std::string_view tlsModeName(TlsMode mode) noexcept;
std::string_view logLevelName(LogLevel level) noexcept;
std::string_view logFormatName(LogFormat format) noexcept;
std::string_view popAuthName(PopAuth auth) noexcept;
std::string_view imapAuthName(ImapAuth auth) noexcept;
// True for xoauth2 and oauthbearer.
bool isOAuth(PopAuth auth) noexcept;
bool isOAuth(ImapAuth auth) noexcept;
// "all", "none", "since 2026-01-15" (the form backlog: takes); "none", "message-id".
std::string backlogText(const PopAccount& account);
std::string_view dedupeName(Dedupe dedupe) noexcept;


}  // namespace popgate::config
