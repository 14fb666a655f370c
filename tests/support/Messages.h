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

// A small, valid message with CRLF line ends for volume tests: Subject "Bulk message <index>",
// Message-ID <bulk-<index>@popgate.test>, a fixed Date, and a body of about `body_bytes` bytes
// (whole 64-byte lines, at least one). Equal arguments give equal bytes.
std::string bulkMessage(std::size_t index, std::size_t body_bytes = 256);

// A short note with CRLF line ends for backlog and dedupe tests: From `from`, Message-ID `id`
// ("default": <n<n>@isp.example>; empty: none), Subject "note <n>", Date `date` (empty: none).
std::string noteMessage(int n, const std::string& date, const std::string& from = "alice@example.org",
                        const std::string& id = "default");

// What Gmail's fetcher (or any other) leaves in the target: `message` with a Received: line on
// top; Message-ID, Date and From unchanged.
std::string fetcherCopy(const std::string& message);

}  // namespace popgate::test
