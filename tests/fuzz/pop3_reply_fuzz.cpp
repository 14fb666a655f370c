// Fuzz target: codec::Pop3ReplyParser (POP3 status lines, RFC 1939 §3, RFC 2449 §8).
// Input: byte 0 picks a chunk pattern, byte 1 the line limit (0..254, or 4096 from 0x80 on); the
// rest is a server stream of pipelined replies. The stream is fed whole, byte by byte and in the
// seeded pattern; after an Error the parser is reset and the rest of that chunk is dropped.
// Checks, beyond "no crash, no sanitizer report":
//  - Done consumed at least one byte and stopped right after an LF; NeedMore consumed everything;
//  - every reply agrees with its line: status word, code upper-case and found in brackets, text a
//    suffix of the line, no LF or NUL, within the limit;
//  - the replies and the first error (its message too: the parser promises the same error for any
//    split) are identical for all three splits.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "connectors/codec/Pop3ReplyParser.h"

namespace {

using popgate::codec::Parse;
using popgate::codec::Pop3Reply;
using popgate::codec::Pop3ReplyParser;
using popgate::fuzz::check;
using popgate::fuzz::ChunkPlan;
using popgate::fuzz::Transcript;

char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (upper(s[i]) != upper(prefix[i])) return false;
  }
  return true;
}

// `word` alone or followed by SP at the start of `line`.
bool startsWithStatus(std::string_view line, std::string_view word) {
  return startsWithNoCase(line, word) && (line.size() == word.size() || line[word.size()] == ' ');
}

void checkReply(const Pop3Reply& reply, std::size_t max_line) {
  const std::string_view line = reply.line;
  check(line.find('\n') == std::string_view::npos, "reply line holds an LF");
  check(line.find('\0') == std::string_view::npos, "reply line holds a NUL");
  check(line.size() + 1 <= max_line, "reply line longer than the limit", line);
  switch (reply.status) {
    case Pop3Reply::Status::Ok:
      check(startsWithStatus(line, "+OK"), "Ok reply without +OK", line);
      break;
    case Pop3Reply::Status::Err:
      check(startsWithStatus(line, "-ERR"), "Err reply without -ERR", line);
      break;
    case Pop3Reply::Status::Continue:
      check(startsWithStatus(line, "+"), "Continue reply without '+ '", line);
      check(reply.code.empty(), "Continue reply with a response code", line);
      break;
  }
  check(reply.ok() == (reply.status == Pop3Reply::Status::Ok), "ok() disagrees with status");
  check(line.ends_with(reply.text), "reply text is not the end of its line", line);
  for (const char c : reply.code) check(c < 'a' || c > 'z', "response code not upper-cased", line);
  if (!reply.code.empty()) {
    // "[" code "]" right after the status word and SP, compared case-insensitively.
    const std::size_t open = line.find('[');
    check(open != std::string_view::npos && line.size() > open + 1 + reply.code.size() &&
              startsWithNoCase(line.substr(open + 1), reply.code) &&
              line[open + 1 + reply.code.size()] == ']',
          "response code not found in brackets", line);
  }
}

// Feeds `stream` in the chunks of `plan`. Records every reply up to the first Error, and that
// error; keeps parsing (unrecorded) after a reset to exercise recovery.
std::string run(std::string_view stream, std::size_t max_line, ChunkPlan plan) {
  Pop3ReplyParser parser(max_line);
  Transcript transcript;
  bool recording = true;
  std::size_t offset = 0;  // of the current chunk in `stream`
  while (offset < stream.size()) {
    const std::size_t size = plan.next(stream.size() - offset);
    std::string_view in = stream.substr(offset, size);
    while (true) {
      Pop3Reply reply;
      const std::size_t before = in.size();
      const Parse result = parser.parse(in, reply);
      if (result == Parse::Done) {
        check(in.size() < before, "Done without consuming a byte");
        const std::size_t end = offset + size - in.size();
        check(stream[end - 1] == '\n', "Done did not stop right after an LF");
        checkReply(reply, max_line);
        if (recording) {
          transcript.event("reply").number(end).number(static_cast<std::uint64_t>(reply.status));
          transcript.field(reply.code).field(reply.text).field(reply.line).end();
        }
        continue;
      }
      if (result == Parse::NeedMore) {
        check(in.empty(), "NeedMore left input unconsumed");
        break;
      }
      check(!parser.error().empty(), "Error without a message");
      std::string_view again = "+OK\r\n";
      check(parser.parse(again, reply) == Parse::Error, "Error is not sticky");
      if (recording) transcript.event("error").field(parser.error()).end();
      recording = false;
      parser.reset();
      check(parser.error().empty(), "reset() kept the error");
      break;  // the rest of this chunk is unspecified after Error: drop it
    }
    offset += size;
  }
  return transcript.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  popgate::fuzz::ByteReader reader(data, size);
  const std::uint8_t seed = reader.byte();
  const std::uint8_t limit = reader.byte();
  const std::size_t max_line = limit >= 0x80 ? 4096 : std::size_t{limit} * 2;
  const std::string_view stream = reader.rest();

  const std::string whole = run(stream, max_line, ChunkPlan::whole());
  const std::string bytewise = run(stream, max_line, ChunkPlan::bytewise());
  popgate::fuzz::checkSame(whole, bytewise, "whole and byte-at-a-time feeding differ");
  const std::string seeded = run(stream, max_line, ChunkPlan::seeded(seed));
  popgate::fuzz::checkSame(whole, seeded, "whole and seeded-chunk feeding differ");
  return 0;
}
