#pragma once
// popgate::Error — the one exception type of the project.
//
// Codecs return values; clients, the ledger and the config loader throw Error. Only the job boundary
// (PollJob) and main catch it: the kind decides what happens next (retry later, skip a message, give
// up on the pass, exit 2). The text is written for an administrator and never contains a secret.

#include <chrono>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace popgate {

enum class ErrorKind {
  Transient,        // network trouble, timeouts, server busy ([IN-USE], [SYS/TEMP]): retry the pass later
  Auth,             // the server refused the credentials: back off, show it as an auth failure
  Security,         // TLS/STARTTLS could not be established as configured: never fall back
  Protocol,         // the server said something we cannot make sense of, or broke a limit
  MailboxProblem,   // target mailbox missing and not creatable, or similar: the account's pass fails
  OverQuota,        // the target is full: pause the account with backoff
  Throttled,        // the server asks us to slow down (rate or bandwidth limits, too many
                    // connections): pause and resume, never quarantine, not a failure of the account
  MessageRejected,  // the target refused one message: quarantine it, go on with the rest
  Config,           // unusable configuration or missing secret: exit 2
  Internal,         // local trouble (disk full, ledger unusable): the pass fails
  Fenced,           // replicas: this process no longer holds the account's lease; the pass stops
                    // before it writes or deletes anything more (another replica has the account)
};

// Short lower-case name of a kind ("transient", "auth", ...), for logs, /status and metrics labels.
std::string_view kindName(ErrorKind kind) noexcept;
// Writes kindName(kind) (test diagnostics, log lines).
std::ostream& operator<<(std::ostream& out, ErrorKind kind);

class Error : public std::runtime_error {
 public:
  // `message` says what failed in our words; `server_text` is the peer's own reply line, if any.
  // A live Secret in either is masked (a broken server may echo a password); control bytes in
  // `server_text` are shown as \xNN, and it is cut at 300 bytes.
  Error(ErrorKind kind, std::string message, std::string server_text = {});

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& serverText() const noexcept { return server_text_; }
  const std::string& account() const noexcept { return account_; }

  // Returns a copy that names the account ("work: ..."); used at the job boundary.
  Error withAccount(std::string account) const;

  // How long the server asked us to wait before trying again (Throttled), when it said.
  std::optional<std::chrono::milliseconds> retryAfter() const noexcept { return retry_after_; }
  // This error with a suggested wait.
  Error withRetryAfter(std::chrono::milliseconds wait) const;

 private:
  static std::string compose(const std::string& account, const std::string& message,
                             const std::string& server_text);
  ErrorKind kind_;
  std::string message_;
  std::string server_text_;
  std::string account_;
  std::optional<std::chrono::milliseconds> retry_after_;
};

}  // namespace popgate
