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

#include "Secret.h"
#include "connectors/common/HostPort.h"
#include "connectors/common/TlsMode.h"

namespace popgate::config {

enum class LogLevel { Error, Warning, Info, Debug };
enum class LogFormat { Text, Json };
enum class PopAuth { Auto, User, Apop, Plain };
enum class ImapAuth { Auto, Login, Plain };

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
};

struct PopAccount {
  std::string name;  // unique, [A-Za-z0-9_.-]+
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
};

struct ImapTarget {
  ServerEndpoint server;
  ImapAuth auth = ImapAuth::Auto;
  std::uint32_t connections = 4;  // 1..32
  // Bytes the target may receive per rolling 24 hours (Gmail: about 500 MB over IMAP); uploads
  // pause when it is spent and resume as the window moves on. 0: no limit.
  std::uint64_t daily_upload_limit = 0;
};

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
  ImapTarget target;
  std::vector<PopAccount> accounts;

  // The account called `name`, or nullptr.
  const PopAccount* findAccount(const std::string& name) const;
};

// The words the YAML file uses for each value: "implicit", "starttls", "none"; "info"; "apop"...
std::string_view tlsModeName(TlsMode mode) noexcept;
std::string_view logLevelName(LogLevel level) noexcept;
std::string_view logFormatName(LogFormat format) noexcept;
std::string_view popAuthName(PopAuth auth) noexcept;
std::string_view imapAuthName(ImapAuth auth) noexcept;


}  // namespace popgate::config
