#include "tests/support/Messages.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "tests/support/Process.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

namespace fs = std::filesystem;

fs::path sampleMessageDir() {
  return sourceDir() / "tests" / "data" / "messages";
}

namespace {

// Every DIR/*.eml, sorted by name.
std::vector<SampleMessage> readMessageDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error("sample messages: no directory " + dir.string());
  }
  std::vector<SampleMessage> samples;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".eml") continue;
    samples.push_back({entry.path().stem().string(), readFile(entry.path())});
  }
  if (samples.empty()) throw std::runtime_error("sample messages: none in " + dir.string());
  std::sort(samples.begin(), samples.end(),
            [](const SampleMessage& a, const SampleMessage& b) { return a.name < b.name; });
  return samples;
}

}  // namespace

std::vector<SampleMessage> sampleMessages() { return readMessageDir(sampleMessageDir()); }

fs::path hardCaseDir() { return sourceDir() / "tests" / "data" / "hard-cases"; }

std::vector<SampleMessage> hardCases() { return readMessageDir(hardCaseDir()); }

SampleMessage largeAttachmentMessage(std::size_t attachment_bytes) {
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string m = "From: Sample Sender <sender@popgate.test>\r\n";
  m += "To: Sample Recipient <recipient@popgate.test>\r\n";
  m += "Subject: Sample 09: an attachment of " + std::to_string(attachment_bytes) + " bytes\r\n";
  m += "Date: Tue, 04 Jun 2024 11:09:00 +0200\r\n";
  m += "Message-ID: <sample-09-large@popgate.test>\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/mixed; boundary=\"popgate-large\"\r\n\r\n";
  m += "--popgate-large\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  m += "The attachment holds pseudo-random bytes.\r\n\r\n";
  m += "--popgate-large\r\nContent-Type: application/octet-stream; name=\"large.bin\"\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment; filename=\"large.bin\"\r\n\r\n";
  // Base64 of the bytes of a fixed linear congruential sequence, 57 bytes (76 characters) a line.
  std::uint32_t state = 2024;
  std::size_t left = attachment_bytes;
  m.reserve(m.size() + attachment_bytes * 4 / 3 + attachment_bytes / 28 + 200);
  while (left > 0) {
    const std::size_t chunk = std::min<std::size_t>(57, left);
    unsigned char raw[57];
    for (std::size_t i = 0; i < chunk; ++i) {
      state = state * 1664525u + 1013904223u;
      raw[i] = static_cast<unsigned char>(state >> 24);
    }
    for (std::size_t i = 0; i < chunk; i += 3) {
      const std::uint32_t b0 = raw[i];
      const std::uint32_t b1 = i + 1 < chunk ? raw[i + 1] : 0;
      const std::uint32_t b2 = i + 2 < chunk ? raw[i + 2] : 0;
      const std::uint32_t triple = (b0 << 16) | (b1 << 8) | b2;
      m += kBase64[(triple >> 18) & 63];
      m += kBase64[(triple >> 12) & 63];
      m += i + 1 < chunk ? kBase64[(triple >> 6) & 63] : '=';
      m += i + 2 < chunk ? kBase64[triple & 63] : '=';
    }
    m += "\r\n";
    left -= chunk;
  }
  m += "--popgate-large--\r\n";
  return {"09-large-attachment", std::move(m)};
}

std::vector<SampleMessage> realisticSet() {
  std::vector<SampleMessage> set = sampleMessages();
  set.push_back(largeAttachmentMessage());
  for (SampleMessage& hard : hardCases()) set.push_back(std::move(hard));
  return set;
}

SampleMessage sampleMessage(std::string_view name) {
  for (SampleMessage& sample : sampleMessages()) {
    if (sample.name == name) return std::move(sample);
  }
  throw std::out_of_range("no sample message named " + std::string(name));
}

std::string popDelivered(std::string_view stored) {
  std::string delivered(stored);
  if (delivered.empty() || delivered.back() != '\n') delivered += "\r\n";
  return delivered;
}

std::string lookAlikeOf(std::string original) {
  const std::size_t body = original.find("\r\n\r\n") + 4;
  original[body + 3] = original[body + 3] == 'z' ? 'y' : 'z';
  return original;
}

std::string bulkMessage(std::size_t index, std::size_t body_bytes) {
  const std::string n = std::to_string(index);
  std::string message = "From: Bulk Sender <bulk@popgate.test>\r\n";
  message += "To: Sample Recipient <recipient@popgate.test>\r\n";
  message += "Subject: Bulk message " + n + "\r\n";
  message += "Date: Tue, 11 Jun 2024 08:00:00 +0000\r\n";
  message += "Message-ID: <bulk-" + n + "@popgate.test>\r\n";
  message += "MIME-Version: 1.0\r\n";
  message += "Content-Type: text/plain; charset=us-ascii\r\n";
  message += "\r\n";
  // 62 characters + CRLF per line: "<index>:<line> " then letters cycling with the line number.
  const std::size_t lines = std::max<std::size_t>(1, body_bytes / 64);
  for (std::size_t line = 0; line < lines; ++line) {
    std::string text = n + ":" + std::to_string(line) + " ";
    while (text.size() < 62) text += static_cast<char>('a' + (text.size() + line) % 26);
    message += text.substr(0, 62);
    message += "\r\n";
  }
  return message;
}

std::string noteMessage(int n, const std::string& date, const std::string& from,
                        const std::string& id) {
  std::string m = "From: " + from + "\r\n";
  if (!id.empty()) {
    m += "Message-ID: " + (id == "default" ? "<n" + std::to_string(n) + "@isp.example>" : id) +
         "\r\n";
  }
  m += "Subject: note " + std::to_string(n) + "\r\n";
  if (!date.empty()) m += "Date: " + date + "\r\n";
  m += "\r\nbody of note " + std::to_string(n) + "\r\n";
  return m;
}

std::string fetcherCopy(const std::string& message) {
  return "Received: from pop.isp.example by mx.google.com with POP3 id x12;\r\n"
         "        Mon, 19 Jan 2026 10:00:00 -0800 (PST)\r\n" +
         message;
}

}  // namespace popgate::test
