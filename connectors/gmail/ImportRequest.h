#pragma once
// The pieces of a users.messages.import request that are not sockets (docs/gmail.md "Import"):
// the query string, the metadata (labelIds), and the framing of a multipart/related upload
// (RFC 2387) around the message bytes, which are streamed between head() and tail() untouched.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::gmail {

// How Gmail is to treat an imported message.
struct ImportOptions {
  bool never_mark_spam = false;
  bool process_for_calendar = true;
};

// "internalDateSource=dateHeader&neverMarkSpam=false&processForCalendar=true" (the message's
// Date: header becomes its date in Gmail, as IMAP APPEND's date does).
std::string importQuery(const ImportOptions& options);

// {"labelIds":["INBOX","UNREAD"]}: the labels the message gets.
std::string importMetadata(const std::vector<std::string>& label_ids);

// The labels for IMAP-style `flags` on top of `folder_label`: UNREAD unless \Seen (Gmail marks an
// import read otherwise; IMAP APPEND leaves it unread), STARRED for \Flagged.
std::vector<std::string> labelIdsFor(const std::string& folder_label,
                                     const std::vector<std::string>& flags);

// A multipart/related body: JSON metadata, then the message as message/rfc822.
class MultipartFrame {
 public:
  // `boundary` must not occur in the message (BoundaryScan tells); 1..70 characters of RFC 2046's
  // bchars without space.
  MultipartFrame(std::string boundary, std::string metadata);
  // The request's Content-Type: multipart/related; boundary=...
  std::string contentType() const;
  // What goes before and after the message bytes.
  const std::string& head() const { return head_; }
  const std::string& tail() const { return tail_; }
  // The body's length for a message of `message_size` bytes.
  std::uint64_t length(std::uint64_t message_size) const {
    return head_.size() + message_size + tail_.size();
  }

 private:
  std::string boundary_, head_, tail_;
};

// Whether `needle` occurs in bytes fed in pieces (a boundary split across two pieces included).
class BoundaryScan {
 public:
  explicit BoundaryScan(std::string needle) : needle_(std::move(needle)) {}
  void feed(std::string_view piece);
  bool found() const { return found_; }

 private:
  std::string needle_;
  std::string carry_;  // the last needle.size()-1 bytes seen
  bool found_ = false;
};

}  // namespace popgate::gmail
