#include "tests/support/Messages.h"

#include <algorithm>
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

std::vector<SampleMessage> sampleMessages() {
  const fs::path dir = sampleMessageDir();
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
