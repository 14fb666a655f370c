#pragma once
// The words of the notices popgate sends the user (Notifier): subjects and plain-text bodies that
// say what failed, in the server's own words, since when, and what to do; and the RFC 5322
// message appended to the target's notice folder. Pure functions; no secret ever reaches them
// (errors are masked where they are made, connectors/common/Error.h).

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/PollJob.h"

namespace popgate::gateway {

// A notice's subject and body (UTF-8 text, LF line ends).
struct NoticeText {
  std::string subject;
  std::string body;
};

// An account failing since `episode.since` (`now` unix seconds): what failed, and what to do.
NoticeText failureNotice(const std::string& account, const NoticeEpisode& episode,
                         std::int64_t now);
// The account that failed in `episode` works again.
NoticeText recoveryNotice(const std::string& account, const NoticeEpisode& episode,
                          std::int64_t now);
// A message the target refused, kept on the POP server (quarantined).
NoticeText quarantineNotice(const std::string& account, const RejectedMessage& message);

// The notice as a message for IMAP APPEND: From popgate <popgate@localhost>, To `recipient` (the
// target's user name when it is an address), Date and Message-ID from `notice` (the same on every
// retry), the subject (ASCII; anything else shown as '?'), and the body as text/plain UTF-8
// (8bit) with CRLF line ends.
std::string noticeMessage(const QueuedNotice& notice, const std::string& recipient);

// `text` fit for one header line: control bytes and non-ASCII shown as '?'.
std::string asciiHeaderValue(std::string_view text);

// "Sat, 05 Dec 2026 00:28:01 +0000" (RFC 5322 date-time, UTC).
std::string rfc5322Date(std::int64_t unix_seconds);

}  // namespace popgate::gateway
