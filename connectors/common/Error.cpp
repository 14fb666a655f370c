#include "Error.h"

#include <ostream>

#include "Printable.h"
#include "Secret.h"

namespace popgate {

namespace {
constexpr std::size_t kMaxServerText = 300;
}  // namespace

std::string_view kindName(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Transient: return "transient";
    case ErrorKind::Auth: return "auth";
    case ErrorKind::Security: return "security";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::MailboxProblem: return "mailbox";
    case ErrorKind::OverQuota: return "overquota";
    case ErrorKind::Throttled: return "throttled";
    case ErrorKind::MessageRejected: return "rejected";
    case ErrorKind::Config: return "config";
    case ErrorKind::Internal: return "internal";
    case ErrorKind::Fenced: return "fenced";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, ErrorKind kind) { return out << kindName(kind); }

// Both texts are masked (a configured secret a server echoed, in whatever part it ended up).
Error::Error(ErrorKind kind, std::string message, std::string server_text)
    : std::runtime_error(std::string()),
      kind_(kind),
      message_(redactSecrets(message)),
      server_text_(printable(server_text, kMaxServerText)) {
  static_cast<std::runtime_error&>(*this) = std::runtime_error(compose({}, message_, server_text_));
}

Error Error::withAccount(std::string account) const {
  Error copy(kind_, message_, server_text_);
  copy.retry_after_ = retry_after_;
  copy.account_ = std::move(account);
  static_cast<std::runtime_error&>(copy) =
      std::runtime_error(compose(copy.account_, message_, server_text_));
  return copy;
}

Error Error::withRetryAfter(std::chrono::milliseconds wait) const {
  Error copy = *this;
  copy.retry_after_ = wait;
  return copy;
}

std::string Error::compose(const std::string& account, const std::string& message,
                           const std::string& server_text) {
  std::string out;
  if (!account.empty()) out += account + ": ";
  out += message;
  if (!server_text.empty()) out += " (server said: " + server_text + ")";
  return out;
}

}  // namespace popgate
