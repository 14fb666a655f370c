#pragma once
// Cuts a byte stream into lines at LF (a CR right before the LF is dropped; a lone CR stays), for
// multi-line listings (UIDL, LIST) that may be far longer than anything worth holding at once.
// Memory stays bounded by `max_line`: a longer line is delivered cut to that many bytes, flagged,
// and the rest of it dropped. Never touches a socket.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace popgate::codec {

class LineSplitter {
 public:
  // Receives each line without its line end; `cut` when bytes beyond max_line were dropped.
  using LineHandler = std::function<void(std::string_view line, bool cut)>;

  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}

  // Hands every line that `bytes` completes to `on_line`, in order; keeps a partial last line.
  void feed(std::string_view bytes, const LineHandler& on_line);
  // Ends the stream: a last line without a line end is handed over too (an empty one is not).
  void finish(const LineHandler& on_line);

 private:
  void keep(std::string_view piece);
  void deliver(const LineHandler& on_line);

  std::size_t max_line_;
  std::string partial_;
  bool cut_ = false;
  bool pending_cr_ = false;  // the partial line ended in CR: dropped if LF comes next
};

}  // namespace popgate::codec
