#pragma once
// Twisted 22.4's POP3 server on the host (deploy/sandbox/twisted-sandbox.sh and
// twisted-pop3.tac have the setup). POP3 only; the one folder is INBOX.

#include "tests/support/ScriptSandbox.h"

namespace popgate::test {

class TwistedSandbox final : public ScriptSandbox {
 public:
  // Starts twistd3 with these users. Throws std::runtime_error.
  explicit TwistedSandbox(std::vector<std::string> users)
      : ScriptSandbox("twisted-sandbox.sh", std::move(users)) {}
  std::string name() const override { return "Twisted 22.4 POP3"; }
};

}  // namespace popgate::test
