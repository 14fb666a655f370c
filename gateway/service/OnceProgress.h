#pragma once
// What `popgate once` shows while its passes run, as text. On a terminal: a live block with one
// line per running account ("work  312/1,204 msgs  41.2 MiB  3.1 MiB/s  ETA 4m12s") that is redrawn
// in place, and a summary line per account when it finishes. Elsewhere (a pipe, a log file,
// systemd): plain lines only, one when an account starts, when it knows what it fetches, at most
// every 10 s while it delivers, and its summary. The passes feed it events from any thread; what
// it shows is a pure function of those events and the times and sizes the caller gives.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/delivery/PollJob.h"

namespace popgate::gateway {

using ProgressClock = std::chrono::steady_clock;

// 1204 → "1,204".
std::string groupedNumber(std::uint64_t n);
// "512 B", "41.2 KiB", "41.2 MiB", "1.2 GiB" (binary units, one decimal).
std::string binaryBytes(std::uint64_t bytes);
// "12s", "4m12s", "1h03m", "2d04h": the two largest units.
std::string shortDuration(std::chrono::seconds duration);
// `line` cut to at most `width` characters (UTF-8 code points; a cut sequence is dropped whole).
std::string fitWidth(std::string_view line, std::size_t width);

// One account as the display knows it.
struct AccountProgress {
  enum class State { Waiting, Running, Finished };
  std::string name;
  State state = State::Waiting;
  PassProgress pass;                          // the latest the pass reported
  ProgressClock::time_point started{};        // when its pass began
  ProgressClock::time_point delivering_since{};  // when it learnt what it fetches (rate, ETA)
};

// "312/1,204 msgs  41.2 MiB  3.1 MiB/s  ETA 4m12s" while delivering ("connecting", "1,204 listed,
// checking" before; "nothing new (1,204 listed)" when it fetches nothing). Rate and ETA only once
// a second of delivery has moved some bytes.
std::string progressText(const AccountProgress& account, ProgressClock::time_point now);
// "done: 1,204 delivered, 3 skipped, 0 quarantined, 41.2 MiB in 6m31s" (under a minute: "in
// 2.3s"), or "failed: ..., 0
// quarantined: <the error>" (server words made printable); a dry run says what it would deliver.
std::string summaryText(const PollResult& result);

class OnceProgress {
 public:
  enum class Mode { Terminal, Plain };
  // A plain line about a delivering account at most this often.
  static constexpr std::chrono::seconds kPlainEvery{10};

  struct Frame {
    std::vector<std::string> above;  // lines shown once and for good, in order
    std::vector<std::string> live;   // Terminal: the block to draw in place; Plain: always empty
  };

  // `accounts`: the names, in the order of the indices the events use.
  OnceProgress(std::vector<std::string> accounts, Mode mode);

  // Events from the passes, from any thread; an index out of range is ignored.
  void started(std::size_t account, ProgressClock::time_point at);
  void progressed(std::size_t account, const PassProgress& progress, ProgressClock::time_point at);
  void finished(std::size_t account, const PollResult& result, ProgressClock::time_point at);

  // Whether something that should be shown at once (a start, a change of phase, a finish) has
  // happened since the last frame.
  bool urgent() const;
  // What to show at `now`: lines not shown before go to `above` (Terminal: finished accounts'
  // summaries; Plain: every line), never cut; the running accounts to `live`, each line at most
  // `width` characters and the block at most `rows` - 1 lines (a last line says how many more run
  // or wait). Names are padded to one column on a terminal, "name: " in plain lines.
  Frame frame(ProgressClock::time_point now, std::size_t width, std::size_t rows);

 private:
  struct Entry {
    AccountProgress account;
    bool shown_start = false;       // Plain: the start line is out
    bool shown_totals = false;      // Plain: the "to deliver" line is out
    bool shown_summary = false;     // the summary line is out
    std::string summary;            // summaryText() once finished
    ProgressClock::time_point last_line{};  // Plain: when a line about it last went out
    std::uint64_t last_done = 0;    // Plain: `done` in that line
  };
  std::string prefix(const std::string& name) const;

  mutable std::mutex mutex_;
  Mode mode_;
  std::vector<Entry> entries_;
  std::vector<std::size_t> finish_order_;  // indices, as they finished
  std::size_t name_width_ = 0;
  bool urgent_ = false;
};

// The bytes that replace a live block of `drawn` lines (the cursor at the start of the line below
// it) with `frame`: cursor up, each line erased to its end and rewritten, what is left below
// erased. Lines of `frame.above` end up above the new block, for good.
std::string terminalUpdate(std::size_t drawn, const OnceProgress::Frame& frame);

}  // namespace popgate::gateway
