// Fuzz target: codec::ImapResponseParser (IMAP server responses with literals, RFC 3501 §7) and
// the response-code helpers codeName, parseAppendUid, parseAppendUidSet (RFC 4315), and the
// NAMESPACE/LIST helpers parsePersonalNamespace, parseListDelimiter (RFC 2342, RFC 3501 §6.3.8).
// Input: byte 0 picks a chunk pattern, byte 1 the line limit (0..508, or 64 KiB from 0x80 on),
// byte 2 the literal limit (0..254, or 64 MiB from 0x80 on); the rest is a server stream of
// pipelined responses. It is fed whole, byte by byte and in the seeded pattern; after an Error the
// parser is reset and the rest of that chunk is dropped.
// Checks, beyond "no crash, no sanitizer report":
//  - Done consumed at least one byte and stopped right after an LF; NeedMore consumed everything;
//    Error is sticky until reset();
//  - every response is well formed: no LF or NUL in any field, a tag without SP or "+", tagged
//    status OK/NO/BAD, upper-case keywords, a status keyword exactly when the status is set, text
//    and code within the line limit;
//  - round trip: a response written back as one line parses to the same fields (skipped when the
//    text ends in "}", which would announce a literal);
//  - APPENDUID codes: parseAppendUid agrees with parseAppendUidSet and codeName; a parsed uid-set
//    has no 0, no repeats, at most kMaxAppendUids UIDs, and written back as a list parses the same;
//  - the literal sink sees the same octets for each response whatever the split;
//  - the responses and where the first error happens are identical for all three splits (the
//    error text is not compared: the parser does not promise which of two violations it names).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "FuzzSupport.h"
#include "connectors/codec/ImapNamespace.h"
#include "connectors/codec/ImapResponseParser.h"

namespace {

using popgate::codec::ImapContinuation;
using popgate::codec::ImapResponse;
using popgate::codec::ImapResponseParser;
using popgate::codec::ImapStatus;
using popgate::codec::ImapTagged;
using popgate::codec::ImapUntagged;
using popgate::codec::Parse;
using popgate::fuzz::check;
using popgate::fuzz::ChunkPlan;
using popgate::fuzz::Transcript;

std::string_view statusWord(ImapStatus status) {
  switch (status) {
    case ImapStatus::Ok:
      return "OK";
    case ImapStatus::No:
      return "NO";
    case ImapStatus::Bad:
      return "BAD";
    case ImapStatus::Bye:
      return "BYE";
    case ImapStatus::PreAuth:
      return "PREAUTH";
    case ImapStatus::None:
      break;
  }
  return "";
}

void checkField(std::string_view value, std::size_t max_line, std::string_view what) {
  if (value.find('\n') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
    popgate::fuzz::failCheck(std::string(what) + " holds an LF or a NUL", value);
  }
  if (value.size() > max_line) {
    popgate::fuzz::failCheck(std::string(what) + " is longer than the line limit", value);
  }
}

bool isStatusKeyword(std::string_view word) {
  return word == "OK" || word == "NO" || word == "BAD" || word == "BYE" || word == "PREAUTH";
}

void checkUpper(std::string_view word) {
  for (const char c : word) check(c < 'a' || c > 'z', "keyword not upper-cased", word);
}

// resp-text written back: "[code] text", with "[] " when the text itself starts with "[".
std::string respText(const std::string& code, const std::string& text) {
  if (code.empty() && !text.starts_with('[')) return text;
  return "[" + code + "] " + text;
}

// The response as one line (literal placeholders kept as text), CRLF included.
std::string writeBack(const ImapResponse& response) {
  if (const auto* tagged = std::get_if<ImapTagged>(&response)) {
    return tagged->tag + " " + std::string(statusWord(tagged->status)) + " " +
           respText(tagged->code, tagged->text) + "\r\n";
  }
  if (const auto* continuation = std::get_if<ImapContinuation>(&response)) {
    return "+ " + continuation->text + "\r\n";
  }
  const auto& untagged = std::get<ImapUntagged>(response);
  std::string line = "* ";
  if (untagged.number) line += std::to_string(*untagged.number) + " ";
  line += untagged.keyword;
  if (untagged.status != ImapStatus::None) {
    line += " " + respText(untagged.code, untagged.text);
  } else if (!untagged.text.empty()) {
    line += " " + untagged.text;
  }
  return line + "\r\n";
}

void record(Transcript& transcript, const ImapResponse& response) {
  if (const auto* tagged = std::get_if<ImapTagged>(&response)) {
    transcript.event("tagged")
        .field(tagged->tag)
        .number(static_cast<std::uint64_t>(tagged->status));
    transcript.field(tagged->code).field(tagged->text).end();
  } else if (const auto* continuation = std::get_if<ImapContinuation>(&response)) {
    transcript.event("continuation").field(continuation->text).end();
  } else {
    const auto& untagged = std::get<ImapUntagged>(response);
    transcript.event("untagged").number(static_cast<std::uint64_t>(untagged.status));
    transcript.field(untagged.keyword).number(untagged.number ? 1 : 0);
    transcript.number(untagged.number.value_or(0)).field(untagged.code).field(untagged.text).end();
  }
}

// The APPENDUID helpers on one response code (or any text).
void checkCode(std::string_view code) {
  const std::string name = popgate::codec::codeName(code);
  checkUpper(name);
  check(name.find(' ') == std::string::npos, "codeName holds a SP", code);
  const auto single = popgate::codec::parseAppendUid(code);
  const auto set = popgate::codec::parseAppendUidSet(code);
  if (single) {
    check(name == "APPENDUID", "APPENDUID parsed from another code", code);
    check(single->uidvalidity != 0 && single->uid != 0, "APPENDUID with a zero", code);
    check(set && set->uidvalidity == single->uidvalidity && set->uids.size() == 1 &&
              set->uids.front() == single->uid,
          "parseAppendUid and parseAppendUidSet disagree", code);
  }
  if (!set) return;
  check(name == "APPENDUID", "APPENDUID set parsed from another code", code);
  check(set->uidvalidity != 0, "APPENDUID set with UIDVALIDITY 0", code);
  check(!set->uids.empty() && set->uids.size() <= popgate::codec::kMaxAppendUids,
        "APPENDUID set size out of range", code);
  std::string list;
  for (const std::uint32_t uid : set->uids) {
    check(uid != 0, "APPENDUID set holds 0", code);
    if (!list.empty()) list += ',';
    list += std::to_string(uid);
  }
  const auto again = popgate::codec::parseAppendUidSet(
      "APPENDUID " + std::to_string(set->uidvalidity) + " " + list);
  check(again && again->uidvalidity == set->uidvalidity && again->uids == set->uids,
        "APPENDUID set written as a list parses differently", code);
}

// The NAMESPACE and LIST helpers on any untagged text: a delimiter is one character or none, a
// prefix holds no line break or NUL, and prefixing never touches INBOX.
void checkNamespaceText(std::string_view text) {
  if (const auto ns = popgate::codec::parsePersonalNamespace(text)) {
    check(ns->delimiter.size() <= 1, "namespace delimiter longer than one character", text);
    check(ns->prefix.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos,
          "namespace prefix with CR, LF or NUL", text);
    check(popgate::codec::personalPrefixFor("INBOX", *ns).empty(), "INBOX got a prefix", text);
    const std::string_view prefix = popgate::codec::personalPrefixFor("Work", *ns);
    check(prefix.empty() || prefix == ns->prefix, "a prefix other than the namespace's", text);
  }
  if (const auto delimiter = popgate::codec::parseListDelimiter(text)) {
    check(delimiter->size() <= 1, "LIST delimiter longer than one character", text);
  }
}

void checkResponse(const ImapResponse& response, std::size_t max_line) {
  bool round_trip = true;
  if (const auto* tagged = std::get_if<ImapTagged>(&response)) {
    checkField(tagged->tag, max_line, "tag");
    checkField(tagged->code, max_line, "code");
    checkField(tagged->text, max_line, "text");
    check(!tagged->tag.empty() && tagged->tag.find_first_of(" +") == std::string::npos, "bad tag",
          tagged->tag);
    check(tagged->status == ImapStatus::Ok || tagged->status == ImapStatus::No ||
              tagged->status == ImapStatus::Bad,
          "tagged status not OK/NO/BAD");
    checkCode(tagged->code);
  } else if (const auto* continuation = std::get_if<ImapContinuation>(&response)) {
    checkField(continuation->text, max_line, "continuation text");
  } else {
    const auto& untagged = std::get<ImapUntagged>(response);
    checkField(untagged.keyword, max_line, "keyword");
    checkField(untagged.code, max_line, "code");
    checkField(untagged.text, max_line, "text");
    check(!untagged.keyword.empty(), "untagged response without a keyword");
    checkNamespaceText(untagged.text);
    checkUpper(untagged.keyword);
    if (untagged.status != ImapStatus::None) {
      check(!untagged.number, "numbered status response");
      check(untagged.keyword == statusWord(untagged.status), "status and keyword differ",
            untagged.keyword);
    } else {
      check(untagged.code.empty(), "code outside a status response", untagged.code);
      check(untagged.number || !isStatusKeyword(untagged.keyword),
            "unnumbered status keyword without its status", untagged.keyword);
    }
    checkCode(untagged.code);
    round_trip = !untagged.text.ends_with('}');
  }
  if (!round_trip) return;
  const std::string line = writeBack(response);
  ImapResponseParser parser(SIZE_MAX, UINT64_MAX);
  ImapResponse again;
  std::string_view in = line;
  check(parser.parse(in, again) == Parse::Done && in.empty(), "written-back response fails", line);
  Transcript first;
  Transcript second;
  record(first, response);
  record(second, again);
  popgate::fuzz::checkSame(first.text(), second.text(), "written-back response parses differently");
}

// Feeds `stream` in the chunks of `plan`; records each response up to the first Error and that
// an error happened; keeps parsing (unrecorded) after a reset to exercise recovery.
std::string run(std::string_view stream, std::size_t max_line, std::uint64_t max_literal,
                ChunkPlan plan) {
  ImapResponseParser parser(max_line, max_literal);
  std::string literals;  // what the literal sink saw since the last recorded response
  parser.setLiteralSink([&](std::string_view bytes) { literals.append(bytes); });
  Transcript transcript;
  bool recording = true;
  std::size_t offset = 0;
  while (offset < stream.size()) {
    const std::size_t size = plan.next(stream.size() - offset);
    std::string_view in = stream.substr(offset, size);
    while (true) {
      ImapResponse response;
      const std::size_t before = in.size();
      const Parse result = parser.parse(in, response);
      if (result == Parse::Done) {
        check(in.size() < before, "Done without consuming a byte");
        const std::size_t end = offset + size - in.size();
        check(stream[end - 1] == '\n', "Done did not stop right after an LF");
        if (recording) {
          checkResponse(response, max_line);
          transcript.event("at").number(end).end();
          record(transcript, response);
          transcript.event("literals").field(literals).end();
        }
        literals.clear();
        continue;
      }
      if (result == Parse::NeedMore) {
        check(in.empty(), "NeedMore left input unconsumed");
        break;
      }
      check(!parser.error().empty(), "Error without a message");
      std::string_view again = "* OK x\r\n";
      check(parser.parse(again, response) == Parse::Error, "Error is not sticky");
      if (recording) transcript.event("error").end();
      recording = false;
      parser.reset();
      check(parser.error().empty(), "reset() kept the error");
      break;
    }
    offset += size;
  }
  return transcript.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  popgate::fuzz::ByteReader reader(data, size);
  const std::uint8_t seed = reader.byte();
  const std::uint8_t line_limit = reader.byte();
  const std::uint8_t literal_limit = reader.byte();
  const std::size_t max_line = line_limit >= 0x80 ? 64 * 1024 : std::size_t{line_limit} * 4;
  const std::uint64_t max_literal =
      literal_limit >= 0x80 ? 64ull * 1024 * 1024 : std::uint64_t{literal_limit} * 2;
  const std::string_view stream = reader.rest();

  const std::string whole = run(stream, max_line, max_literal, ChunkPlan::whole());
  const std::string bytewise = run(stream, max_line, max_literal, ChunkPlan::bytewise());
  popgate::fuzz::checkSame(whole, bytewise, "whole and byte-at-a-time feeding differ");
  const std::string seeded = run(stream, max_line, max_literal, ChunkPlan::seeded(seed));
  popgate::fuzz::checkSame(whole, seeded, "whole and seeded-chunk feeding differ");
  // The code helpers on raw bytes too (not only on codes the parser cut out).
  checkCode(stream);
  return 0;
}
