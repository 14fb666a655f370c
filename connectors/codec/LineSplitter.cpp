#include "LineSplitter.h"

namespace popgate::codec {

void LineSplitter::feed(std::string_view bytes, const LineHandler& on_line) {
  while (!bytes.empty()) {
    const std::size_t lf = bytes.find('\n');
    if (pending_cr_) {
      pending_cr_ = false;
      if (lf != 0) keep("\r");  // the CR held back was a lone CR inside the line
    }
    std::string_view piece = bytes.substr(0, lf);  // up to the LF, or everything
    if (!piece.empty() && piece.back() == '\r') {
      piece.remove_suffix(1);
      if (lf == std::string_view::npos) pending_cr_ = true;  // perhaps CRLF split across feeds
    }
    keep(piece);
    if (lf == std::string_view::npos) return;
    deliver(on_line);
    bytes.remove_prefix(lf + 1);
  }
}

void LineSplitter::keep(std::string_view piece) {
  const std::size_t room = max_line_ - partial_.size();  // partial_ never exceeds max_line_
  if (piece.size() > room) cut_ = true;
  partial_.append(piece.substr(0, room));
}

void LineSplitter::finish(const LineHandler& on_line) {
  if (pending_cr_) {
    pending_cr_ = false;
    keep("\r");
  }
  if (!partial_.empty() || cut_) deliver(on_line);
}

void LineSplitter::deliver(const LineHandler& on_line) {
  on_line(partial_, cut_);
  partial_.clear();
  cut_ = false;
}

}  // namespace popgate::codec
