#pragma once
// Shows an OnceProgress while `popgate once` runs. On a terminal the live block is redrawn in
// place on the file descriptor every kTick, and at once (on the thread that reports it) when an
// account starts, changes phase or finishes, fitted to the terminal's width (TIOCGWINSZ, asked at every redraw), and log
// lines written to logStream() appear above it. Elsewhere its plain lines are logged at info
// level, so they take the configured log format and level like any other log line.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "OnceProgress.h"

namespace popgate::gateway {

// Whether `fd` is a terminal that obeys cursor movement: isatty(), and TERM set and not "dumb".
bool drawsInPlace(int fd);

class ProgressDisplay {
 public:
  static constexpr std::chrono::milliseconds kTick{250};

  // Starts the drawing thread. `terminal`: draw in place on `fd` (which the display borrows);
  // otherwise log `progress`'s plain lines. `progress` must outlive the display.
  ProgressDisplay(OnceProgress& progress, int fd, bool terminal);
  // stop().
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Shows a frame now if something urgent happened (OnceProgress::urgent()), else leaves it to
  // the next tick. Any thread; a few times per account at most, so the drawing costs nothing.
  void refresh();
  // Shows the last frame and ends the drawing thread; the cursor is left below everything drawn.
  // Idempotent.
  void stop();
  // For setupLogging() on a terminal: every complete line written to it is printed above the
  // live block. Valid as long as the display; point the logger elsewhere before destroying it.
  std::ostream& logStream();

 private:
  class LineBuffer;
  void run();
  void show();  // one frame
  void printAbove(const std::string& line);
  void writeAll(const std::string& bytes);

  OnceProgress& progress_;
  int fd_;
  bool terminal_;
  std::mutex draw_mutex_;              // one writer to fd_ at a time
  std::size_t drawn_ = 0;              // lines of the live block on the screen (under draw_mutex_)
  std::vector<std::string> live_;      // and what they say
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;              // under wake_mutex_
  std::unique_ptr<LineBuffer> log_buffer_;
  std::unique_ptr<std::ostream> log_stream_;
  std::thread thread_;
};

}  // namespace popgate::gateway
