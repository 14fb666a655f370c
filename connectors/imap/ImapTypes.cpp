#include "ImapTypes.h"

#include <algorithm>

namespace popgate::imap {

namespace {

// SEARCH takes a value as an astring in US-ASCII; anything else would need CHARSET and a server
// that honours it, so such a value is not searched for.
bool searchable(const std::optional<std::string>& value) {
  return value && !value->empty() && std::all_of(value->begin(), value->end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

}  // namespace

std::vector<RecoverySearch> recoverySearches(const MessageFingerprint& fingerprint) {
  if (searchable(fingerprint.message_id)) {
    return {RecoverySearch{{{"Message-ID", *fingerprint.message_id}}, std::nullopt}};
  }
  RecoverySearch headers;
  if (searchable(fingerprint.date)) headers.headers.push_back({"Date", *fingerprint.date});
  if (searchable(fingerprint.from)) headers.headers.push_back({"From", *fingerprint.from});
  if (searchable(fingerprint.subject)) headers.headers.push_back({"Subject", *fingerprint.subject});
  if (!headers.headers.empty()) return {headers};
  return {RecoverySearch{{}, fingerprint.size}, RecoverySearch{}};
}

}  // namespace popgate::imap
