#pragma once
// Cyrus IMAP 3.6 (imapd and pop3d) in a Debian root of its own (deploy/sandbox/cyrus-sandbox.sh
// has the setup and what Cyrus does to messages). Folders are named as Cyrus names them for the
// user: INBOX, INBOX.Work. Needs root; where the root cannot be built, the constructor throws
// SandboxUnavailable.

#include "tests/support/ScriptSandbox.h"

namespace popgate::test {

class CyrusSandbox final : public ScriptSandbox {
 public:
  // Starts Cyrus with these users; `munge8bit` false writes "munge8bit: no" into imapd.conf
  // (Debian's configuration leaves it on: 8-bit header bytes are stored as "X"). Throws
  // SandboxUnavailable or std::runtime_error.
  explicit CyrusSandbox(std::vector<std::string> users, bool munge8bit = true)
      : ScriptSandbox("cyrus-sandbox.sh", std::move(users),
                      {{"SANDBOX_CYRUS_MUNGE8BIT", munge8bit ? "1" : "0"}}) {}
  std::string name() const override { return "Cyrus IMAP 3.6"; }
};

}  // namespace popgate::test
