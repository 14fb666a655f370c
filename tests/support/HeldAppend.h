#pragma once
// An APPEND that the network still carries when its sender dies: a message of about 256 KiB in a
// POP box, the target folder made first (so the first APPEND is the one that counts, no
// TRYCREATE), and a FaultProxy before the target's plain IMAP port that holds what a client
// writes from 64 KiB on (inside the literal) until release().

#include <string>

#include "DovecotSandbox.h"
#include "FaultProxy.h"

namespace popgate::test {

struct HeldAppend {
  // Seeds the message into `pop_user`'s box and creates `folder` for `target_user`.
  HeldAppend(DovecotSandbox& dovecot, const std::string& pop_user, const std::string& target_user,
             const std::string& folder);

  // Whether the proxy holds the whole APPEND: the message's last bytes and the CRLF after them.
  bool holdsTheWholeAppend();

  std::string expected;  // what the target should store once (the message as POP delivers it)
  FaultProxy proxy;      // connect the target through proxy.port() (plain IMAP)
};

}  // namespace popgate::test
