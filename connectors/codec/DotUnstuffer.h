#pragma once
// The body of a POP3 multi-line response (RFC 1939 §3): byte-stuffed lines ending with
// CRLF "." CRLF. A line starts at the beginning of the body or right after CRLF. At a line start,
// "." CRLF ends the body; "." followed by anything else loses that first ".". Nothing else changes:
// bare LF, lone CR, NUL and 8-bit bytes pass through. "\n.\n" and "\r\n.\n" are not an end.
// EOF before the end is the caller's error, never a short message.

#include <cstddef>
#include <string>
#include <string_view>

#include "Parse.h"

namespace popgate::codec {

class DotUnstuffer {
 public:
  // max_bytes bounds the unstuffed output of one body; exceeding it is an Error ("too large").
  explicit DotUnstuffer(std::size_t max_bytes = SIZE_MAX);

  // Appends the unstuffed bytes found in `in` to `out` and consumes them. Done: the terminator
  // was consumed and `in` starts right after it. Bytes of a possible terminator that are not
  // yet decided are held back internally, never lost.
  Parse feed(std::string_view& in, std::string& out);
  void reset();
  // Unstuffed bytes emitted since reset().
  std::size_t produced() const noexcept { return produced_; }
  std::string_view error() const noexcept { return error_; }

 private:
  enum class State { LineStart, Dot, DotCr, Body, Cr };
  std::size_t max_bytes_;
  std::size_t produced_ = 0;
  State state_ = State::LineStart;
  std::string error_;
};

}  // namespace popgate::codec
