#pragma once
// What big providers' IMAP servers say when they want a client to slow down, in the words they
// really use (recorded in public transcripts; docs/gmail.md and docs/microsoft365.md):
//   Gmail:          "A5 OK Success [THROTTLED]"     (the code comes after the text)
//                   "* BYE [OVERQUOTA] Account exceeded command or bandwidth limits."
//                   "A1 NO [ALERT] Too many simultaneous connections. (Failure)"
//   Microsoft 365:  "A5 BAD Request is throttled. Suggested Backoff Time: 299609 milliseconds"
//                   "A5 NO Server Unavailable. 15"
// Pure functions over a response's code and text; no sockets.

#include <chrono>
#include <optional>
#include <string_view>

namespace popgate::codec {

struct ThrottleHint {
  bool throttled = false;                              // the server asks for a pause
  std::optional<std::chrono::milliseconds> wait;       // how long, when it says
};

// Reads a tagged or untagged response's code ("THROTTLED", "OVERQUOTA"...) and text.
ThrottleHint throttleHint(std::string_view code, std::string_view text);

// "Too many simultaneous connections" (Gmail) or the RFC 5530 [LIMIT] code at login: the
// account's connection cap is reached, which is a reason to use fewer, not a wrong password.
bool connectionLimitReached(std::string_view code, std::string_view text);

// A BYE that ends the session because of a usage limit (Gmail's "[OVERQUOTA] Account exceeded
// command or bandwidth limits."), as opposed to a server going down.
bool usageLimitBye(std::string_view code, std::string_view text);

// The target refuses the message for its size (Gmail "[TOOBIG] Message too large", Microsoft
// "Maximum size of appendable message has been exceeded"): quarantine that one message.
bool messageTooBig(std::string_view code, std::string_view text);

}  // namespace popgate::codec
