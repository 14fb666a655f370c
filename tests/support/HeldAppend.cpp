#include "HeldAppend.h"

#include <stdexcept>

#include "Messages.h"

namespace popgate::test {

namespace {

std::string seeded(DovecotSandbox& dovecot, const std::string& pop_user,
                   const std::string& target_user, const std::string& folder) {
  const std::string message = largeAttachmentMessage(256 * 1024).bytes;
  dovecot.seed(pop_user, message);
  dovecot.createFolder(target_user, folder);
  std::string delivered = popDelivered(message);
  if (delivered.size() <= (128u << 10)) throw std::logic_error("the held message is too small");
  return delivered;
}

}  // namespace

HeldAppend::HeldAppend(DovecotSandbox& dovecot, const std::string& pop_user,
                       const std::string& target_user, const std::string& folder)
    : expected(seeded(dovecot, pop_user, target_user, folder)),
      proxy(dovecot.imapPort(),
            Fault{Fault::Action::Hold, Fault::Direction::ToServer, 64u << 10, 0}) {}

bool HeldAppend::holdsTheWholeAppend() {
  return proxy.heldEndsWith(expected.substr(expected.size() - 64) + "\r\n");
}

}  // namespace popgate::test
