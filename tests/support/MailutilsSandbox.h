#pragma once
// GNU mailutils 3.15 pop3d and imap4d on the host (deploy/sandbox/mailutils-sandbox.sh has the
// setup and what the servers do to messages). Users log in as USER@popgate.test; folders are
// named with "/" between levels; INBOX is the POP3 maildrop.

#include "tests/support/ScriptSandbox.h"

namespace popgate::test {

class MailutilsSandbox final : public ScriptSandbox {
 public:
  // Starts both servers with these users. Throws std::runtime_error.
  explicit MailutilsSandbox(std::vector<std::string> users)
      : ScriptSandbox("mailutils-sandbox.sh", std::move(users)) {}
  std::string name() const override { return "GNU mailutils 3.15"; }
};

}  // namespace popgate::test
