#include "ImapSink.h"

namespace popgate::gateway {

std::vector<imap::AppendOutcome> ImapSink::append(const std::string& folder,
                                                  const std::vector<imap::AppendItem>& items) {
  ImapPool::Lease session = pool_.acquire();
  return session->append(folder, items);
}

bool ImapSink::contains(const std::string& folder, const imap::MessageFingerprint& fingerprint) {
  ImapPool::Lease session = pool_.acquire();
  return !session->find(folder, fingerprint).empty();
}

}  // namespace popgate::gateway
