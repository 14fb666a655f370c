// Fuzz target: codec::DotUnstuffer (POP3 multi-line bodies, RFC 1939 §3).
// Input: byte 0 picks a chunk pattern, byte 1 the max_bytes limit (0..63, multiples of 24 up to
// 4296, or none from 0xF0 on); the rest is a stream of pipelined bodies. The stream is fed whole,
// byte by byte and in the seeded pattern; after Done the unstuffer is reset for the next body.
// Checks, beyond "no crash, no sanitizer report":
//  - Done consumed bytes ending in CRLF "." CRLF (or a body that is only "." CRLF); NeedMore
//    consumed everything; produced() counts the output; feed() after Error fails again;
//  - the output is a subsequence of the consumed input, never longer than it, empty or ending in
//    CRLF when Done, within max_bytes, and exactly max_bytes long on Error;
//  - round trip: re-stuffing the output (a "." before every line that starts with ".") and
//    appending a terminator unstuffs to the same output again, never longer than the original;
//  - the bodies, the partial last body and the error are identical for all three splits.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "connectors/codec/DotUnstuffer.h"

namespace {

using popgate::codec::DotUnstuffer;
using popgate::codec::Parse;
using popgate::fuzz::check;
using popgate::fuzz::ChunkPlan;
using popgate::fuzz::Transcript;

// RFC 1939 byte-stuffing: a "." in front of every line (body start or after CRLF) that begins
// with ".".
std::string stuff(std::string_view body) {
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (line_start && body[i] == '.') out += '.';
    out += body[i];
    line_start = body[i] == '\n' && i > 0 && body[i - 1] == '\r';
  }
  return out;
}

// Unstuffs a complete `wire` body in one call; it must end exactly at the end of `wire`.
std::string unstuffWhole(std::string_view wire) {
  DotUnstuffer unstuffer;
  std::string out;
  std::string_view in = wire;
  check(unstuffer.feed(in, out) == Parse::Done, "re-stuffed body did not end", wire);
  check(in.empty(), "re-stuffed body ended early", wire);
  return out;
}

bool isSubsequence(std::string_view part, std::string_view whole) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < whole.size() && k < part.size(); ++i) {
    if (whole[i] == part[k]) ++k;
  }
  return k == part.size();
}

// Invariants of one body's output `out`, unstuffed from the consumed bytes `wire`.
void checkBody(std::string_view wire, const std::string& out, bool done) {
  check(out.size() <= wire.size(), "output longer than input");
  check(isSubsequence(out, wire), "output is not a subsequence of the input", out);
  // Any output followed by CRLF "." CRLF comes back as the output plus that CRLF.
  check(unstuffWhole(stuff(out) + "\r\n.\r\n") == out + "\r\n", "round trip with CRLF differs",
        out);
  if (!done) return;
  check(wire == ".\r\n" || wire.ends_with("\r\n.\r\n"), "Done without CRLF . CRLF", wire);
  check(out.empty() || out.ends_with("\r\n"), "Done output does not end in CRLF", out);
  const std::string restuffed = stuff(out) + ".\r\n";
  check(restuffed.size() <= wire.size(), "re-stuffed body longer than the original", wire);
  check(unstuffWhole(restuffed) == out, "round trip differs", out);
}

// Feeds `stream` in the chunks of `plan` and records every body, the first error and the
// partial last body.
std::string run(std::string_view stream, std::size_t max_bytes, ChunkPlan plan) {
  DotUnstuffer unstuffer(max_bytes);
  Transcript transcript;
  std::string out;
  std::size_t body_start = 0;
  bool failed = false;
  std::size_t offset = 0;
  while (offset < stream.size() && !failed) {
    const std::size_t size = plan.next(stream.size() - offset);
    std::string_view in = stream.substr(offset, size);
    while (!failed) {
      const std::size_t before = in.size();
      const Parse result = unstuffer.feed(in, out);
      check(unstuffer.produced() == out.size(), "produced() differs from the output size");
      if (result == Parse::Done) {
        check(in.size() < before, "Done without consuming a byte");
        const std::size_t end = offset + size - in.size();
        const std::string_view wire = stream.substr(body_start, end - body_start);
        check(out.size() <= max_bytes, "Done output over max_bytes");
        checkBody(wire, out, true);
        transcript.event("body").number(end).field(out).end();
        std::string_view more = "x";
        check(unstuffer.feed(more, out) == Parse::Error, "feed() after Done did not fail");
        unstuffer.reset();
        check(unstuffer.produced() == 0 && unstuffer.error().empty(), "reset() kept state");
        out.clear();
        body_start = end;
        if (in.empty()) break;
        continue;
      }
      if (result == Parse::NeedMore) {
        check(in.empty(), "NeedMore left input unconsumed");
        break;
      }
      check(max_bytes != SIZE_MAX, "Error without a limit", unstuffer.error());
      check(out.size() == max_bytes, "Error output is not exactly max_bytes");
      check(!unstuffer.error().empty(), "Error without a message");
      std::string_view more = "x";
      check(unstuffer.feed(more, out) == Parse::Error, "Error is not sticky");
      check(out.size() == max_bytes, "feed() after Error changed the output");
      transcript.event("error").field(out).field(unstuffer.error()).end();
      failed = true;
    }
    offset += size;
  }
  if (!failed && body_start < stream.size()) {
    checkBody(stream.substr(body_start), out, false);
    transcript.event("partial").field(out).end();
  }
  return transcript.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  popgate::fuzz::ByteReader reader(data, size);
  const std::uint8_t seed = reader.byte();
  const std::uint8_t limit = reader.byte();
  std::size_t max_bytes = SIZE_MAX;
  if (limit < 0x40) {
    max_bytes = limit;
  } else if (limit < 0xF0) {
    max_bytes = std::size_t{limit - 0x40u} * 24;
  }
  const std::string_view stream = reader.rest();

  const std::string whole = run(stream, max_bytes, ChunkPlan::whole());
  const std::string bytewise = run(stream, max_bytes, ChunkPlan::bytewise());
  popgate::fuzz::checkSame(whole, bytewise, "whole and byte-at-a-time feeding differ");
  const std::string seeded = run(stream, max_bytes, ChunkPlan::seeded(seed));
  popgate::fuzz::checkSame(whole, seeded, "whole and seeded-chunk feeding differ");
  return 0;
}
