#pragma once
// Integration-test wiring for the real popgate binary against a DovecotSandbox: a config file
// with secrets in files, and running the binary.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "DovecotSandbox.h"
#include "MailServer.h"
#include "Process.h"
#include "TempDir.h"

namespace popgate::test {

// One POP account of the sandbox, as it goes into the config.
struct AccountSetup {
  std::string name;              // also the sandbox user
  std::string folder;            // target folder
  std::string tls = "implicit";  // implicit (POP3S port), starttls or none (plain port)
  bool keep = true;
  std::string password{};        // empty: the sandbox password
  std::string extra{};           // more YAML lines for the account, each "    key: value\n"
  std::uint16_t port = 0;        // 0: the sandbox's port for `tls` (a FaultProxy's otherwise)
  std::string host = "localhost";
  std::string target{};          // the account's target: key; empty: none written
};

// One named target (central mailbox) of the sandbox, for writeTargetsConfig().
struct TargetSetup {
  std::string name;              // its key under targets:
  std::string user;              // the sandbox user whose mailbox it is
  std::size_t connections = 4;
  std::string extra{};           // more YAML lines for the target, each "    key: value\n"
};

// Gateway configuration for `sandbox` with target user `target_user` (IMAP with `target_tls`,
// STARTTLS by default, on the plain port, or `target_port` when not 0; the sandbox CA as ca_file),
// secrets written as files into `dir` (mode 0600), `timeout` for every server. `extra_top` is
// added at the top level (e.g. "admin: ...").
std::filesystem::path writeGatewayConfig(const TempDir& dir, const DovecotSandbox& sandbox,
                                         const std::string& target_user,
                                         const std::vector<AccountSetup>& accounts,
                                         const std::string& extra_top = {},
                                         std::size_t connections = 4,
                                         std::uint16_t target_port = 0,
                                         const std::string& timeout = "20s",
                                         const std::string& target_tls = "starttls");

// The same with several named targets (`targets:`, IMAP STARTTLS on the sandbox's plain port);
// `extra_top` may hold a defaults: section.
std::filesystem::path writeTargetsConfig(const TempDir& dir, const DovecotSandbox& sandbox,
                                         const std::vector<TargetSetup>& targets,
                                         const std::vector<AccountSetup>& accounts,
                                         const std::string& extra_top = {},
                                         const std::string& timeout = "20s");
// How popgate reaches one server and logs in, for configurations that pair different servers.
struct ServerLogin {
  std::uint16_t port = 0;
  std::string tls = "none";  // none | starttls | implicit
  std::string ca_file{};     // with TLS
  std::string username{};
  std::string password{};
};
// `user` on `server` over plaintext POP3 / IMAP on 127.0.0.1, with the server's login name.
ServerLogin pop3Login(const MailServer& server, const std::string& user);
ServerLogin imapLogin(const MailServer& server, const std::string& user);

// One account of such a configuration.
struct PairedAccount {
  std::string name;
  ServerLogin pop;
  std::string folder = "INBOX";
  bool keep = true;
  std::string extra{};  // more YAML lines for the account, each "    key: value\n"
};

// Gateway configuration delivering `accounts` into `target` (host 127.0.0.1 on both sides),
// secrets written as files into `dir`, `timeout` for every server, log level `log_level`.
std::filesystem::path writePairedConfig(const TempDir& dir, const ServerLogin& target,
                                        const std::vector<PairedAccount>& accounts,
                                        std::size_t connections = 4,
                                        const std::string& timeout = "20s",
                                        const std::string& log_level = "info");

// Runs `popgate ARGS...` to completion (at most `timeout`).
CommandResult runPopgate(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// `v` sorted (to compare what arrived with what was sent, whatever the order).
std::vector<std::string> sorted(std::vector<std::string> v);

// How what arrived compares with what was sent, message by message (as multisets): each sent
// message missing is lost, each copy beyond the first (or never sent) is duplicated.
struct Tally {
  std::size_t sent = 0, lost = 0, duplicated = 0;
  std::vector<std::size_t> lost_indices, duplicated_indices;  // into `sent`
  bool exact() const { return lost == 0 && duplicated == 0; }
};
Tally tally(const std::vector<std::string>& sent, const std::vector<std::string>& arrived);
std::ostream& operator<<(std::ostream& out, const Tally& t);

// The database: section of a config for the PostgreSQL at `url`, its password in a private
// file of `dir`.
std::string databaseSection(const TempDir& dir, const std::string& url,
                            const std::string& password);

// Messages of `user`'s `folder`, or 0 while the folder does not exist yet.
std::size_t countOrZero(DovecotSandbox& sandbox, const std::string& user, const std::string& folder);

// A free TCP port on 127.0.0.1 at the time of the call (bound, read, released).
std::uint16_t freeLocalPort();

struct HttpResponse {
  int status = 0;  // 0 when no answer came
  std::string body;
  std::map<std::string, std::string> headers;
};
// One HTTP/1.1 request to 127.0.0.1:port; `token` goes in "Authorization: Bearer" when not empty.
HttpResponse httpRequest(const std::string& method, std::uint16_t port, const std::string& path,
                         const std::string& token = {});

// Waits up to `timeout` until `ready()` is true, checking every 100 ms. Returns ready()'s last answer.
bool waitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout);

// Lets the running `popgate` work for `delay` (or until it ends): the time it spends waiting for
// an interrupted upload to settle ("waiting N s before looking for", in its log) does not count.
// Kill tests use it, so that a kill strikes the pass's work, not (only) that wait.
void letItWork(Process& popgate, std::chrono::milliseconds delay);

}  // namespace popgate::test
