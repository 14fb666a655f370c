#include "tests/support/AppendAnswerWatch.h"

#include <algorithm>
#include <cctype>

namespace popgate::test {

namespace {

// The n of a line that ends in "{n}" or "{n+}" (CRLF or LF after it), or -1.
long long literalLength(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.back() != '}') return -1;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') line.remove_suffix(1);
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos || open + 1 == line.size()) return -1;
  const std::string_view digits = line.substr(open + 1);
  if (digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(std::string(digits));
}

// The first two space-separated words of `line`, upper-cased second word.
std::pair<std::string, std::string> tagAndWord(std::string_view line) {
  const std::size_t space = line.find(' ');
  if (space == std::string_view::npos) return {};
  std::string word;
  for (std::size_t i = space + 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\r' || c == '\n') break;
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return {std::string(line.substr(0, space)), word};
}

}  // namespace

std::vector<ImapStreamSplitter::Piece> ImapStreamSplitter::feed(std::string_view bytes) {
  std::vector<Piece> out;
  while (!bytes.empty()) {
    if (literal_left_ > 0) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, bytes.size()));
      out.push_back(Piece{std::string(bytes.substr(0, n)), true, false});
      literal_left_ -= n;
      bytes.remove_prefix(n);
      continue;
    }
    const std::size_t lf = bytes.find('\n');
    if (lf == std::string_view::npos) {
      partial_.append(bytes);
      break;
    }
    std::string line = partial_ + std::string(bytes.substr(0, lf + 1));
    partial_.clear();
    bytes.remove_prefix(lf + 1);
    const long long literal = literalLength(line);
    out.push_back(Piece{std::move(line), false, !continuing_});
    continuing_ = literal >= 0;
    literal_left_ = literal > 0 ? static_cast<std::uint64_t>(literal) : 0;
  }
  return out;
}

void AppendAnswerWatch::fromClient(std::string_view bytes) {
  for (const ImapStreamSplitter::Piece& piece : client_.feed(bytes)) {
    if (!piece.line_start) continue;
    auto [tag, command] = tagAndWord(piece.bytes);
    if (command == "APPEND") append_tags_.insert(std::move(tag));
  }
}

std::vector<AppendAnswerWatch::Answer> AppendAnswerWatch::fromServer(std::string_view bytes) {
  std::vector<Answer> out;
  for (ImapStreamSplitter::Piece& piece : server_.feed(bytes)) {
    bool ok = false;
    if (piece.line_start) {
      const auto [tag, status] = tagAndWord(piece.bytes);
      const auto it = append_tags_.find(tag);
      if (it != append_tags_.end() && (status == "OK" || status == "NO" || status == "BAD")) {
        ok = status == "OK";
        append_tags_.erase(it);
      }
    }
    out.push_back(Answer{std::move(piece.bytes), ok});
  }
  return out;
}

}  // namespace popgate::test
