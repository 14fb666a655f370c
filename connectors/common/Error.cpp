#include "Error.h"

#include <ostream>

namespace popgate {

std::string_view kindName(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Transient: return "transient";
    case ErrorKind::Auth: return "auth";
    case ErrorKind::Security: return "security";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::MailboxProblem: return "mailbox";
    case ErrorKind::OverQuota: return "overquota";
    case ErrorKind::MessageRejected: return "rejected";
    case ErrorKind::Config: return "config";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, ErrorKind kind) { return out << kindName(kind); }

namespace {

// A server's words as they may appear in a log line, a terminal or /status: control bytes (a lone
// CR could forge a log line, ESC could drive a terminal) become \xNN; at most 300 bytes.
std::string printable(std::string text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
    if (out.size() >= 300) {
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace

Error::Error(ErrorKind kind, std::string message, std::string server_text)
    : std::runtime_error(compose({}, message, printable(server_text))),
      kind_(kind),
      message_(std::move(message)),
      server_text_(printable(std::move(server_text))) {}

Error Error::withAccount(std::string account) const {
  Error copy(kind_, message_, server_text_);
  copy.account_ = std::move(account);
  static_cast<std::runtime_error&>(copy) =
      std::runtime_error(compose(copy.account_, message_, server_text_));
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
