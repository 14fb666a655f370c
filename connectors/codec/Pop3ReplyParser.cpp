// POP3 status lines, one at a time (RFC 1939 §3, RFC 2449 §8, RFC 5034 §4):
//   single-line = ("+OK" / "-ERR") [SP [resp-code SP] text] CRLF
//   resp-code   = "[" resp-level *("/" resp-level) "]"        ; RFC 2449 §8
//   resp-level  = 1*<any CHAR except "/" and "]">               ; CHAR = %x01-7F
//   continue    = "+" SP [base64] CRLF                          ; RFC 5034 §4; bare "+" CRLF too
// A line ends at LF; one CR right before it is dropped. The limit is checked before a byte is kept,
// so an endless line costs at most max_line bytes.

#include "Pop3ReplyParser.h"

#include <cstring>
#include <utility>

#include "connectors/common/Ascii.h"

namespace popgate::codec {
namespace {

// True when `s` is the status word `upper` alone or followed by SP ("+OKAY" is not "+OK").
bool isStatus(std::string_view s, std::string_view upper) noexcept {
  return startsWithNoCase(s, upper) && (s.size() == upper.size() || s[upper.size()] == ' ');
}

// Fills code and text from what follows "+OK " / "-ERR ". A response code counts only when it is
// well formed and followed by SP or the line end; anything else stays text, brackets included.
void splitCode(std::string_view rest, Pop3Reply& out) {
  out.code.clear();
  out.text.assign(rest);
  if (rest.empty() || rest.front() != '[') return;
  const std::size_t close = rest.find(']');
  if (close == std::string_view::npos) return;
  const std::string_view code = rest.substr(1, close - 1);
  bool level_empty = true;
  for (const char c : code) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/') {
      if (level_empty) return;
      level_empty = true;
    } else if (byte == 0 || byte > 0x7F) {
      return;
    } else {
      level_empty = false;
    }
  }
  if (level_empty) return;
  std::string_view after = rest.substr(close + 1);
  if (!after.empty()) {
    if (after.front() != ' ') return;
    after.remove_prefix(1);
  }
  // ABNF strings are case-insensitive: callers compare against "IN-USE", "SYS/TEMP", ...
  for (const char c : code) out.code.push_back(upperAscii(c));
  out.text.assign(after);
}

// A short, log-safe excerpt of a peer's line for error messages.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (const char c : line.substr(0, kMax)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7F ? c : '?');
  }
  if (line.size() > kMax) out += "...";
  return out;
}

}  // namespace

Pop3ReplyParser::Pop3ReplyParser(std::size_t max_line) : max_line_(max_line) {}

void Pop3ReplyParser::reset() {
  line_.clear();
  error_.clear();
  failed_ = false;
}

Parse Pop3ReplyParser::fail(std::string message) {
  failed_ = true;
  line_.clear();
  error_ = std::move(message);
  return Parse::Error;
}

Parse Pop3ReplyParser::parse(std::string_view& in, Pop3Reply& out) {
  if (failed_) return Parse::Error;
  if (in.empty()) return Parse::NeedMore;  // memchr must not see a null pointer
  const void* lf = std::memchr(in.data(), '\n', in.size());
  const std::size_t segment =
      lf != nullptr ? static_cast<std::size_t>(static_cast<const char*>(lf) - in.data())
                    : in.size();
  // Content bytes this line may still take; its LF needs one more octet of the limit.
  const std::size_t used = line_.size() + 1;
  const std::size_t room = max_line_ >= used ? max_line_ - used : 0;
  const bool too_long = max_line_ < used || segment > room;
  // Report whichever violation comes first in the byte stream, so any split gives the same error.
  const void* nul = std::memchr(in.data(), '\0', segment);
  if (nul != nullptr &&
      static_cast<std::size_t>(static_cast<const char*>(nul) - in.data()) < room) {
    return fail("NUL byte in a POP3 status line");
  }
  if (too_long) {
    return fail("POP3 status line longer than " + std::to_string(max_line_) + " octets");
  }
  line_.append(in.data(), segment);
  if (lf == nullptr) {
    in.remove_prefix(in.size());
    return Parse::NeedMore;
  }
  in.remove_prefix(segment + 1);
  return finish(out);
}

Parse Pop3ReplyParser::finish(Pop3Reply& out) {
  std::string line = std::move(line_);
  line_.clear();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::string_view view(line);
  Pop3Reply reply;
  if (isStatus(view, "+OK")) {
    reply.status = Pop3Reply::Status::Ok;
    splitCode(view.substr(view.size() > 3 ? 4 : 3), reply);
  } else if (isStatus(view, "-ERR")) {
    reply.status = Pop3Reply::Status::Err;
    splitCode(view.substr(view.size() > 4 ? 5 : 4), reply);
  } else if (isStatus(view, "+")) {
    reply.status = Pop3Reply::Status::Continue;
    reply.text.assign(view.substr(view.size() > 1 ? 2 : 1));
  } else {
    return fail("not a POP3 status line: \"" + excerpt(view) + "\"");
  }
  reply.line = std::move(line);
  out = std::move(reply);
  return Parse::Done;
}

}  // namespace popgate::codec
