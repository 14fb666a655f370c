#pragma once
// POP3 status lines (RFC 1939 §3, RFC 2449 §8 response codes, RFC 5034 §4 SASL continuations).
//   single-line = ("+OK" / "-ERR") [SP [resp-code SP] text] CRLF
//   resp-code   = "[" resp-level *("/" resp-level) "]"
//   continue    = "+" SP [base64] CRLF
// A line ends at LF; one CR right before it is dropped. Never reads a socket.

#include <cstddef>
#include <string>
#include <string_view>

#include "Parse.h"

namespace popgate::codec {

struct Pop3Reply {
  enum class Status { Ok, Err, Continue };
  Status status = Status::Err;
  std::string code;  // response code without brackets, upper-cased: "IN-USE", "SYS/TEMP"; or empty
  std::string text;  // the rest of the line after the code (or after the status), no CRLF
  std::string line;  // the whole line without CRLF, for error messages
  bool ok() const noexcept { return status == Status::Ok; }
};

class Pop3ReplyParser {
 public:
  // max_line bounds one status line including CRLF; longer lines are an Error, never buffered.
  explicit Pop3ReplyParser(std::size_t max_line = 4096);

  // Consumes bytes from `in` up to and including the line's LF. Done: `out` holds the reply, `in`
  // starts right after the LF and the parser is ready for the next line. NeedMore: all of `in`
  // consumed (kept). Error: the line is over the limit, holds a NUL, or starts with neither
  // "+OK", "-ERR" (either followed by SP or the line end) nor "+" SP / "+" CRLF; status words
  // match case-insensitively. After Error `in` is unspecified and every call fails until reset().
  Parse parse(std::string_view& in, Pop3Reply& out);
  // Forgets any partial line and a previous error.
  void reset();
  // Why the last call answered Error; empty otherwise.
  std::string_view error() const noexcept { return error_; }

 private:
  Parse fail(std::string message);
  Parse finish(Pop3Reply& out);

  std::size_t max_line_;
  std::string line_;  // the current line so far, without its LF
  std::string error_;
  bool failed_ = false;
};

}  // namespace popgate::codec
