// Dot-unstuffing of a POP3 multi-line body (RFC 1939 §3):
//   "... If any line of the multi-line response begins with the termination octet, the line is
//    'byte-stuffed' by pre-pending the termination octet to that line ... a multi-line response is
//    terminated with the five octets "CRLF.CRLF"."
//   body       = *stuffed-line "." CRLF      ; the first line starts right after the status line
//   line start = body start / after CRLF     ; a bare LF does not start a line
// The output is the input minus every dot that opens a line and minus the final "." CRLF, so the
// scan copies whole runs between such dots (memchr for CR) instead of moving bytes one by one.

#include "DotUnstuffer.h"

#include <cstring>
#include <utility>

namespace popgate::codec {

DotUnstuffer::DotUnstuffer(std::size_t max_bytes) : max_bytes_(max_bytes) {}

void DotUnstuffer::reset() {
  produced_ = 0;
  state_ = State::LineStart;
  error_.clear();
}

Parse DotUnstuffer::fail(std::string message) {
  state_ = State::Failed;
  error_ = std::move(message);
  return Parse::Error;
}

bool DotUnstuffer::emit(std::string& out, const char* bytes, std::size_t count) {
  if (count == 0) return true;
  if (count > max_bytes_ - produced_) {
    // Keep exactly the first max_bytes bytes so the result never depends on how input was split.
    const std::size_t fits = max_bytes_ - produced_;
    out.append(bytes, fits);
    produced_ += fits;
    return false;
  }
  out.append(bytes, count);
  produced_ += count;
  return true;
}

Parse DotUnstuffer::feed(std::string_view& in, std::string& out) {
  if (state_ == State::Failed) return Parse::Error;
  if (state_ == State::Ended) return fail("feed() after the end of the body without reset()");
  if (in.empty()) return Parse::NeedMore;  // memchr must not see a null pointer

  const char* const end = in.data() + in.size();
  const char* p = in.data();
  const char* run = p;  // start of input bytes that go to `out` unchanged, up to p
  const auto too_large = [this] {
    return fail("message body larger than " + std::to_string(max_bytes_) + " bytes");
  };
  while (p != end) {
    switch (state_) {
      case State::Body: {
        const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(end - p));
        if (cr == nullptr) {
          p = end;
        } else {
          p = static_cast<const char*>(cr) + 1;
          state_ = State::Cr;
        }
        break;
      }
      case State::Cr:
        if (*p == '\n') {
          state_ = State::LineStart;
        } else if (*p != '\r') {
          state_ = State::Body;
        }
        ++p;
        break;
      case State::LineStart:
        if (*p == '.') {
          // Drop the stuffing (or terminator) dot: flush the run before it, restart after it.
          if (!emit(out, run, static_cast<std::size_t>(p - run))) return too_large();
          ++p;
          run = p;
          state_ = State::Dot;
        } else {
          state_ = State::Body;  // Body looks at this byte again
        }
        break;
      case State::Dot:
        if (*p == '\r') {
          ++p;
          run = p;  // the CR is held back until the next byte decides
          state_ = State::DotCr;
        } else {
          state_ = State::Body;  // "." + anything else: the dot is gone, the byte stays
        }
        break;
      case State::DotCr:
        if (*p == '\n') {
          in.remove_prefix(static_cast<std::size_t>(p + 1 - in.data()));
          state_ = State::Ended;
          return Parse::Done;
        }
        // "." CR + something else: the held CR is a body byte after all; Cr looks at this byte.
        if (!emit(out, "\r", 1)) return too_large();
        state_ = State::Cr;
        break;
      case State::Ended:
      case State::Failed:
        return Parse::Error;  // unreachable: checked on entry
    }
  }
  if (!emit(out, run, static_cast<std::size_t>(end - run))) return too_large();
  in.remove_prefix(in.size());
  return Parse::NeedMore;
}

}  // namespace popgate::codec
