#include "HeaderReader.h"

namespace popgate::gateway {

namespace {

// `value` with runs of SP/HTAB as one space and no space at either end.
std::string folded(std::string_view value) {
  std::string out;
  bool space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool sameField(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  if (!a || !b) return !a && !b;
  return folded(*a) == folded(*b);
}

}  // namespace

HeaderFacts headerFacts(std::string_view header_block) {
  const std::string_view block = codec::headerBlock(header_block);
  HeaderFacts facts;
  facts.message_id = codec::headerValue(block, "Message-ID");
  facts.date = codec::headerValue(block, "Date");
  facts.from = codec::headerValue(block, "From");
  if (facts.date) facts.sent = codec::parseMessageDate(*facts.date);
  return facts;
}

bool sameMessage(const HeaderFacts& message, const imap::HeaderCopy& copy) {
  return message.message_id && sameField(message.message_id, copy.message_id) &&
         sameField(message.date, copy.date) && sameField(message.from, copy.from);
}

pop3::ByteSink& HeaderReader::begin(const pop3::MessageInfo&) {
  buffer_.bytes_.clear();
  return buffer_;
}

void HeaderReader::end(const pop3::MessageInfo& message, pop3::RetrieveOutcome outcome,
                       std::string_view reply) {
  if (outcome != pop3::RetrieveOutcome::Complete) {
    ++unread_;
    if (outcome == pop3::RetrieveOutcome::Refused) last_refusal_ = std::string(reply);
    buffer_.bytes_.clear();
    return;
  }
  facts_[message.number] = headerFacts(buffer_.bytes_);
  buffer_.bytes_.clear();
}

const HeaderFacts* HeaderReader::find(std::uint32_t number) const {
  const auto it = facts_.find(number);
  return it == facts_.end() ? nullptr : &it->second;
}

void HeaderReader::clear() {
  facts_.clear();
  unread_ = 0;
  last_refusal_.clear();
  buffer_.bytes_.clear();
}

}  // namespace popgate::gateway
