#pragma once
// popa3d 1.0.3 (POP3 without CAPA) behind socat in a Debian root of its own
// (deploy/sandbox/popa3d-sandbox.sh has the setup and how popa3d serves its mbox). POP3 only; the
// one folder is INBOX. Needs root; where the root cannot be built, the constructor throws
// SandboxUnavailable.

#include "tests/support/ScriptSandbox.h"

namespace popgate::test {

class Popa3dSandbox final : public ScriptSandbox {
 public:
  // Starts socat with these users' mboxes. Throws SandboxUnavailable or std::runtime_error.
  explicit Popa3dSandbox(std::vector<std::string> users)
      : ScriptSandbox("popa3d-sandbox.sh", std::move(users)) {}
  std::string name() const override { return "popa3d 1.0.3"; }
};

}  // namespace popgate::test
