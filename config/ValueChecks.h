#pragma once
// Checks for single configuration values (host names, listen addresses, account names, folders,
// IMAP flags, environment variable names). Pure functions: no YAML, no file names; an error text
// says what is wrong and is ready to follow "FILE:LINE: KEY: ". Never given a secret's value.

#include <cstdint>
#include <string>
#include <string_view>

#include "GatewayConfig.h"
#include "Parsed.h"

namespace popgate::config {

// A host name (RFC 1123 labels; "_" tolerated), an IPv4 address, or an IPv6 address with or without
// [brackets]. The value is the host as a resolver wants it: IPv6 without brackets.
Parsed<std::string> parseHost(std::string_view text);

// True for "localhost", 127.0.0.0/8 and ::1 (as parseHost() returns them).
bool isLoopbackHost(std::string_view host);

// An "https://host[:port]/path?query" URL, or "http://..." to a loopback host only (notices are
// not sent in clear over a network). No user:password@, no fragment, no spaces or control bytes.
Parsed<WebhookUrl> parseWebhookUrl(std::string_view text);

// A TCP port written as text, 1..65535.
Parsed<std::uint16_t> parsePort(std::string_view text);

struct ListenAddress {
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
};
// "host:port", "[IPv6]:port" or "hostname:port"; the port is required, 1..65535.
Parsed<ListenAddress> parseListen(std::string_view text);

// Empty when `name` matches [A-Za-z0-9_.-]+, is at most 64 bytes and is neither "." nor ".."
// (names become file names and metric labels); otherwise what is wrong.
std::string accountNameProblem(std::string_view name);

// Empty when `folder` is a usable target mailbox name (non-empty, no CR, LF or NUL; "/" allowed).
std::string folderProblem(std::string_view folder);

// An IMAP flag for APPEND: a system flag (\Seen, \Answered, \Flagged, \Draft, \Deleted, any case;
// the value is the canonical spelling) or a keyword atom (RFC 3501 flag-keyword). \Recent is
// refused.
Parsed<std::string> parseImapFlag(std::string_view text);

// A backlog rule: "all", "none" or "since YYYY-MM-DD" (a real calendar date, 1970-01-01 to
// 9999-12-31; the day starts at 00:00 UTC), lower-case as the other choices.
struct BacklogRule {
  Backlog kind = Backlog::All;
  std::int64_t since = 0;  // Since: unix seconds of 00:00 UTC of that day
};
Parsed<BacklogRule> parseBacklog(std::string_view text);

// Empty when `name` is a POSIX environment variable name ([A-Za-z_][A-Za-z0-9_]*).
std::string envNameProblem(std::string_view name);

// True when `text` holds CR, LF or NUL: it could not be sent as one protocol line.
bool hasLineBreakOrNul(std::string_view text);

}  // namespace popgate::config
