#pragma once
// Courier IMAP and POP3 5 in a Debian root of its own (deploy/sandbox/courier-sandbox.sh has the
// setup and what Courier does to messages). Folders are named as Courier names them for the
// user: INBOX, INBOX.Work. Needs root; where the root cannot be built, the constructor throws
// SandboxUnavailable.

#include "tests/support/ScriptSandbox.h"

namespace popgate::test {

class CourierSandbox final : public ScriptSandbox {
 public:
  // Starts Courier's authdaemond, imapd and pop3d with these users. Throws SandboxUnavailable or
  // std::runtime_error.
  explicit CourierSandbox(std::vector<std::string> users)
      : ScriptSandbox("courier-sandbox.sh", std::move(users)) {}
  std::string name() const override { return "Courier 5"; }
};

}  // namespace popgate::test
