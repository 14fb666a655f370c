// Multipart upload (Google's "Upload media data", multipart upload; RFC 2387 multipart/related):
//   --B CRLF Content-Type: application/json; charset=UTF-8 CRLF CRLF <metadata> CRLF
//   --B CRLF Content-Type: message/rfc822 CRLF CRLF <message bytes> CRLF --B-- CRLF

#include "ImportRequest.h"

#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace popgate::gmail {

std::string importQuery(const ImportOptions& options) {
  return std::string("internalDateSource=dateHeader&neverMarkSpam=") +
         (options.never_mark_spam ? "true" : "false") +
         "&processForCalendar=" + (options.process_for_calendar ? "true" : "false");
}

std::string importMetadata(const std::vector<std::string>& label_ids) {
  Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
  for (const std::string& id : label_ids) ids->add(id);
  Poco::JSON::Object metadata;
  metadata.set("labelIds", ids);
  std::ostringstream out;
  metadata.stringify(out);
  return out.str();
}

std::vector<std::string> labelIdsFor(const std::string& folder_label,
                                     const std::vector<std::string>& flags) {
  std::vector<std::string> ids{folder_label};
  bool seen = false, flagged = false;
  for (const std::string& flag : flags) {
    seen = seen || flag == "\\Seen";
    flagged = flagged || flag == "\\Flagged";
  }
  if (!seen) ids.emplace_back("UNREAD");
  if (flagged) ids.emplace_back("STARRED");
  return ids;
}

MultipartFrame::MultipartFrame(std::string boundary, std::string metadata)
    : boundary_(std::move(boundary)) {
  head_ = "--" + boundary_ + "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" +
          metadata + "\r\n--" + boundary_ + "\r\nContent-Type: message/rfc822\r\n\r\n";
  tail_ = "\r\n--" + boundary_ + "--\r\n";
}

std::string MultipartFrame::contentType() const {
  return "multipart/related; boundary=" + boundary_;
}

void BoundaryScan::feed(std::string_view piece) {
  if (found_ || needle_.empty()) return;
  std::string window = carry_;
  window.append(piece.substr(0, std::min(piece.size(), needle_.size())));
  if (window.find(needle_) != std::string::npos || piece.find(needle_) != std::string_view::npos) {
    found_ = true;
    return;
  }
  const std::size_t keep = needle_.size() - 1;
  if (piece.size() >= keep) {
    carry_.assign(piece.substr(piece.size() - keep));
  } else {
    carry_.append(piece);
    if (carry_.size() > keep) carry_.erase(0, carry_.size() - keep);
  }
}

}  // namespace popgate::gmail
