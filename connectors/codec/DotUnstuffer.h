#pragma once
// The body of a POP3 multi-line response (RFC 1939 §3): byte-stuffed lines ending with
// CRLF "." CRLF. A line starts at the beginning of the body or right after CRLF. At a line start,
// "." CRLF ends the body; "." followed by anything else loses that first ".". Nothing else changes:
// bare LF, lone CR, NUL and 8-bit bytes pass through. "\n.\n" and "\r\n.\n" are not an end.
// EOF before the end is the caller's error, never a short message.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "Parse.h"

namespace popgate::codec {

class DotUnstuffer {
 public:
  // max_bytes bounds the unstuffed output of one body; exceeding it is an Error ("too large").
  explicit DotUnstuffer(std::size_t max_bytes = SIZE_MAX);

  // Appends the unstuffed bytes found in `in` to `out` and consumes them. Done: the terminator
  // was consumed and `in` starts right after it. NeedMore: all of `in` was consumed. Bytes of a
  // possible terminator that are not yet decided are held back internally, never lost.
  // Error: over max_bytes (then `out` got exactly the first max_bytes unstuffed bytes, whatever
  // the split), or feed() after Done/Error without reset(); `in` is then unspecified.
  Parse feed(std::string_view& in, std::string& out);
  // Starts a new body: line start, nothing produced, no error.
  void reset();
  // Unstuffed bytes emitted since reset().
  std::size_t produced() const noexcept { return produced_; }
  // Why the last call answered Error; empty otherwise.
  std::string_view error() const noexcept { return error_; }

 private:
  // LineStart: at body start or after CRLF. Dot: "." dropped at a line start. DotCr: "." CR seen
  // at a line start, the CR held back. Body: inside a line. Cr: the last byte emitted was CR.
  enum class State { LineStart, Dot, DotCr, Body, Cr, Ended, Failed };
  bool emit(std::string& out, const char* bytes, std::size_t count);
  Parse fail(std::string message);

  std::size_t max_bytes_;
  std::size_t produced_ = 0;
  State state_ = State::LineStart;
  std::string error_;
};

}  // namespace popgate::codec
