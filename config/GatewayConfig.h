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
};

struct GatewayConfig {
  std::filesystem::path source;     // the file it was read from (absolute), or the name
                                    // given to loadConfigText()
  std::filesystem::path state_dir;  // absolute
  LogLevel log_level = LogLevel::Info;
  LogFormat log_format = LogFormat::Text;
  std::uint32_t max_parallel_polls = 4;  // 1..64
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
