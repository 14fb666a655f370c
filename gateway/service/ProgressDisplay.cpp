#include "ProgressDisplay.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <streambuf>
#include <string_view>

#include "Logging.h"

namespace popgate::gateway {

namespace {

struct ScreenSize {
  std::size_t columns = 80;
  std::size_t rows = 24;
};

// The terminal's size now; 80x24 when it does not say.
ScreenSize screenSize(int fd) {
  ScreenSize size;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col > 0) size.columns = ws.ws_col;
    if (ws.ws_row > 0) size.rows = ws.ws_row;
  }
  return size;
}

}  // namespace

bool drawsInPlace(int fd) {
  if (::isatty(fd) != 1) return false;
  const char* term = std::getenv("TERM");
  return term != nullptr && *term != '\0' && std::string_view(term) != "dumb";
}

// Collects what the logger writes and hands each complete line to the display. The logger writes
// under its own lock, so one thread at a time comes here.
class ProgressDisplay::LineBuffer final : public std::streambuf {
 public:
  explicit LineBuffer(ProgressDisplay& display) : display_(display) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    put(traits_type::to_char_type(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) put(s[i]);
    return n;
  }

 private:
  void put(char c) {
    if (c != '\n') {
      line_ += c;
      return;
    }
    display_.printAbove(line_);
    line_.clear();
  }
  ProgressDisplay& display_;
  std::string line_;
};

ProgressDisplay::ProgressDisplay(OnceProgress& progress, int fd, bool terminal)
    : progress_(progress),
      fd_(fd),
      terminal_(terminal),
      log_buffer_(std::make_unique<LineBuffer>(*this)),
      log_stream_(std::make_unique<std::ostream>(log_buffer_.get())) {
  thread_ = std::thread([this] { run(); });
}

ProgressDisplay::~ProgressDisplay() { stop(); }

void ProgressDisplay::refresh() {
  if (progress_.urgent()) show();
}

void ProgressDisplay::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
    show();  // the summaries of the last accounts to finish
  }
}

std::ostream& ProgressDisplay::logStream() { return *log_stream_; }

void ProgressDisplay::run() {
  for (;;) {
    {
      std::unique_lock lock(wake_mutex_);
      if (wake_.wait_for(lock, kTick, [this] { return stopping_; })) return;
    }
    show();
  }
}

void ProgressDisplay::show() {
  std::lock_guard lock(draw_mutex_);  // one frame at a time, so lines keep their order
  const auto now = ProgressClock::now();
  if (!terminal_) {
    for (const std::string& line : progress_.frame(now, 0, 0).above) logInfo(line);
    return;
  }
  const ScreenSize size = screenSize(fd_);
  // One column short of the edge: a line ending in the last column would leave the cursor
  // waiting to wrap, and erasing from there would eat its last character.
  const OnceProgress::Frame frame = progress_.frame(now, size.columns - 1, size.rows);
  if (drawn_ == 0 && frame.above.empty() && frame.live.empty()) return;  // nothing, then or now
  writeAll(terminalUpdate(drawn_, frame));
  drawn_ = frame.live.size();
  live_ = frame.live;
}

void ProgressDisplay::printAbove(const std::string& line) {
  std::lock_guard lock(draw_mutex_);
  OnceProgress::Frame frame;
  frame.above.push_back(line);
  frame.live = live_;
  writeAll(terminalUpdate(drawn_, frame));
}

void ProgressDisplay::writeAll(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to show it: the passes go on regardless
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace popgate::gateway
