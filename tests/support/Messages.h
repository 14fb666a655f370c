#pragma once
// The sample corpus (tests/data/messages/*.eml) for integration tests and the demo, and bulk
// messages for volume tests.
//
// The files hold CRLF line ends (.gitattributes: -text) — the bytes a POP3 server hands out after
// dot-unstuffing. Each has a distinct Subject ("Sample NN: ..."):
//   01-plain-ascii           an ordinary 7-bit message
//   02-dot-lines             lines ".hidden", "..", ".", "...", ending with a lone "." line
//   03-utf8-mongolian        8-bit UTF-8 body (Mongolian Cyrillic: POP vs IMAP), RFC 2047 subject
//   04-latin1                8-bit ISO-8859-1 body
//   05-no-message-id         no Message-ID header
//   06-long-line             a line of 5000 bytes
//   07-no-final-newline      the last line has no CRLF
//   08-multipart-attachment  multipart/mixed with a base64 attachment of all 256 byte values
//
// What a POP3 client receives (checked against Dovecot 2.3.19 POP3, see popDelivered()):
// - Dovecot's RETR ends a message without a final newline with CRLF before the "." line, so
//   07-no-final-newline arrives with "\r\n" appended — and that is what the gateway delivers
//   (it delivers what POP hands out). Every other sample arrives byte-identical.
// - Bare LF would arrive as CRLF (Dovecot converts line ends on output); the samples have none.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::test {

// One sample: the file name without ".eml" (e.g. "02-dot-lines") and the file's exact bytes.
struct SampleMessage {
  std::string name;
  std::string bytes;
};

// tests/data/messages of the source tree ($POPGATE_SOURCE_DIR, else the build's source dir).
std::filesystem::path sampleMessageDir();

// Every tests/data/messages/*.eml, sorted by name. Throws std::runtime_error when the directory
// is missing or holds no .eml file.
std::vector<SampleMessage> sampleMessages();

// The sample called `name` (e.g. "07-no-final-newline"). Throws std::out_of_range if unknown.
SampleMessage sampleMessage(std::string_view name);

// The bytes a POP3 client gets (after dot-unstuffing) when Dovecot's RETR serves a message stored
// as `stored` (CRLF line ends): `stored`, plus "\r\n" when it does not end with a line end.
std::string popDelivered(std::string_view stored);

// tests/data/hard-cases of the source tree: messages real servers treat differently.
std::filesystem::path hardCaseDir();

// Every tests/data/hard-cases/*.eml, sorted by name (CRLF line ends, distinct Message-IDs):
//   h1-8bit-header      raw UTF-8 bytes in From and Subject (no RFC 2047 encoded words)
//   h2-bad-header-name  a header field whose name has a space ("X Broken Header: ...")
//   h3-nul-byte         a NUL byte in the body
//   h4-headers-only     a header and nothing else: no empty line, no body
//   h5-from-line        body lines that start with "From " (mbox separators) and ">From "
//   h6-lone-cr          a CR that no LF follows, inside a body line
// Throws std::runtime_error when the directory is missing or empty.
std::vector<SampleMessage> hardCases();

// "09-large-attachment": a multipart message with a base64 attachment of `attachment_bytes`
// pseudo-random bytes (76-character lines, CRLF). Equal arguments give equal bytes.
SampleMessage largeAttachmentMessage(std::size_t attachment_bytes = 5 * 1024 * 1024);

// What every interop cell delivers: sampleMessages(), largeAttachmentMessage() and hardCases().
std::vector<SampleMessage> realisticSet();

// A small, valid message with CRLF line ends for volume tests: Subject "Bulk message <index>",
// Message-ID <bulk-<index>@popgate.test>, a fixed Date, and a body of about `body_bytes` bytes
// (whole 64-byte lines, at least one). Equal arguments give equal bytes.
std::string bulkMessage(std::size_t index, std::size_t body_bytes = 256);

// The same header and size as `original` (so the same Message-ID, or the same Date, From and
// Subject where it has none), one byte of the body different: an automated sender that reuses
// IDs, two copies of one notice that differ in one field. `original` must have a body of at least
// 4 bytes.
std::string lookAlikeOf(std::string original);

// A short note with CRLF line ends for backlog and dedupe tests: From `from`, Message-ID `id`
// ("default": <n<n>@isp.example>; empty: none), Subject "note <n>", Date `date` (empty: none).
std::string noteMessage(int n, const std::string& date, const std::string& from = "alice@example.org",
                        const std::string& id = "default");

// What Gmail's fetcher (or any other) leaves in the target: `message` with a Received: line on
// top; Message-ID, Date and From unchanged.
std::string fetcherCopy(const std::string& message);

}  // namespace popgate::test
