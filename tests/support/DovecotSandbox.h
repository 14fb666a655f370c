#pragma once
// A real Dovecot on 127.0.0.1 for integration tests: the C++ face of
// deploy/sandbox/dovecot-sandbox.sh (read its header for the server's setup).
//
//   DovecotSandbox dovecot({"work", "me"});
//   dovecot.seed("work", sampleMessages()[0].bytes);
//   ... run popgate against 127.0.0.1:dovecot.pop3Port() / dovecot.imapPort() ...
//   BOOST_TEST(dovecot.messages("me", "Work").size() == 1);
//
// Facts the tests rely on (Dovecot 2.3.19, checked):
// - Users log in with password() = "pw-USER" by USER/PASS, APOP, AUTH PLAIN/LOGIN, IMAP LOGIN.
// - Dovecot listens on 127.0.0.1, and on ::1 when the host has IPv6 loopback ("localhost" may
//   resolve to ::1 first). TLS: the certificate is valid for "localhost" and 127.0.0.1 and is
//   signed by caFile().
// - Mail is stored with CRLF line ends; messages() returns the stored bytes exactly.
// - A wrong password is answered -ERR / NO within about 0.5 s (no growing penalty).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/MailServer.h"
#include "tests/support/Process.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

// Variations of the server, fixed at start.
struct SandboxOptions {
  // IMAP advertises Gmail's capability set: LITERAL- instead of LITERAL+, no MULTIAPPEND.
  bool gmail_like = false;
  // When not empty: the quota plugin limits this user to quota_bytes (APPEND beyond it answers
  // NO [OVERQUOTA]).
  std::string quota_user;
  std::uint64_t quota_bytes = 0;
  // How POP3 logins are served: by two long-lived processes (the default), by one (every POP3S
  // client can resume its TLS session: each login process keeps sessions of its own), or by a
  // fresh process per connection (Dovecot's default high-security mode: no session is resumed).
  enum class Pop3Login { Two, One, PerConnection } pop3_login = Pop3Login::Two;
  // When not empty: OAuth 2.0 logins too (XOAUTH2, OAUTHBEARER), each access token checked at
  // this RFC 7662 introspection URL (an IP literal; test::OAuthTestServer's /introspect).
  std::string oauth2_introspection_url;
};

// One running Dovecot with its own directory, ports, users and mail. Not copyable or movable.
class DovecotSandbox final : public MailServer {
 public:
  // Starts Dovecot with these users (names of [A-Za-z0-9_.@+-]) in a fresh temporary directory,
  // on a free range of ports (bases 20000..30999, so every port lies below the kernel's
  // ephemeral range). Retries other ports when one is taken meanwhile. Throws
  // std::runtime_error with Dovecot's error text when it cannot start.
  explicit DovecotSandbox(std::vector<std::string> users, SandboxOptions options = {});
  // Stops Dovecot; then the directory goes (kept with POPGATE_KEEP_TEMP=1). Never throws.
  // Should this process die first (crash, SIGKILL from a ctest timeout), a watchdog child does
  // the same within about a second.
  ~DovecotSandbox() override;
  DovecotSandbox(const DovecotSandbox&) = delete;
  DovecotSandbox& operator=(const DovecotSandbox&) = delete;

  std::string name() const override { return "Dovecot 2.3"; }
  // Ports on 127.0.0.1 (and ::1): IMAP (plaintext, STARTTLS), IMAPS, POP3 (plaintext, STLS),
  // POP3S.
  std::uint16_t imapPort() const override { return static_cast<std::uint16_t>(base_port_ + 143); }
  std::uint16_t imapsPort() const { return static_cast<std::uint16_t>(base_port_ + 993); }
  std::uint16_t pop3Port() const override { return static_cast<std::uint16_t>(base_port_ + 110); }
  std::uint16_t pop3sPort() const { return static_cast<std::uint16_t>(base_port_ + 995); }
  std::uint16_t basePort() const { return base_port_; }
  // The sandbox directory (config, certificates, mail, dovecot.log).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The CA certificate (PEM) that signed the server's certificate: the ca_file for clients.
  std::filesystem::path caFile() const { return dir() / "certs" / "ca.pem"; }
  // The generated dovecot.conf (for doveadm -c).
  std::filesystem::path confFile() const { return dir() / "dovecot.conf"; }
  // The users given at construction.
  const std::vector<std::string>& users() const { return users_; }
  // Dovecot's log so far (for failure messages).
  std::string log() const override;

  // Stores `bytes` as one message in `folder` (created when missing) through doveadm save, as a
  // delivery would: bare LF becomes CRLF. One doveadm run, ~25 ms per message on an idle
  // machine. Throws std::runtime_error.
  void seed(const std::string& user, std::string_view bytes, const std::string& folder = "INBOX");
  // Stores many messages at once, byte-exact, as files in the folder's maildir new/ (owned by
  // the mail user), in this order (UIDs ascend with the index); Dovecot picks them up at once.
  // Thousands per second. Use CRLF line ends: the files are the messages. Throws on failure.
  void seedMany(const std::string& user, const std::vector<std::string>& messages,
                const std::string& folder = "INBOX") override;
  // A daemon polling every second with keep: false may take seeded messages as they land, so
  // seedMany() can no longer check by counting that Dovecot has taken them in (it still makes
  // Dovecot look at once).
  void pollersTakeMail(bool on) { pollers_take_mail_ = on; }
  // Creates `folder` for `user` unless it exists. Throws std::runtime_error.
  void createFolder(const std::string& user, const std::string& folder);
  // The number of messages in `folder`. Throws std::runtime_error (e.g. no such folder).
  std::size_t count(const std::string& user, const std::string& folder = "INBOX") override;
  // Every message of `folder`, exact bytes, in UID order. Throws std::runtime_error.
  std::vector<std::string> messages(const std::string& user,
                                    const std::string& folder = "INBOX") override;

  // Stops Dovecot (idempotent; mail stays). Throws std::runtime_error when it cannot.
  void stop();
  // Starts it again on the same directory, ports and users, keeping the mail.
  void restart();
  // deploy/sandbox/dovecot-sandbox.sh of the source tree.
  static std::filesystem::path script();

 private:
  // Runs the script with these arguments; its stdout, or std::runtime_error with its stderr.
  std::string run(const std::vector<std::string>& args);
  // Runs doveadm on this sandbox's configuration; its stdout, or std::runtime_error.
  std::string doveadm(const std::vector<std::string>& args,
                      const std::filesystem::path& stdin_file = {});
  // Tries to start on base_port_; false when a port was taken, throws on other failures.
  bool tryStart();
  // The maildir directory of `folder` of `user`.
  std::filesystem::path folderDir(const std::string& user, const std::string& folder) const;

  TempDir dir_;
  std::vector<std::string> users_;
  SandboxOptions options_;
  std::uint16_t base_port_ = 0;
  std::map<std::string, std::string> settings_;            // `env` output: MAIL_UID, MAIL_GID, ...
  std::set<std::pair<std::string, std::string>> created_;  // (user, folder) known to exist
  bool pollers_take_mail_ = false;
  unsigned seed_counter_ = 0;                              // names seed files and seedMany files
  bool running_ = false;
  std::unique_ptr<Process> watchdog_;
};

}  // namespace popgate::test
