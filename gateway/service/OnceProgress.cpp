#include "OnceProgress.h"

#include <algorithm>
#include <cstdio>

#include "connectors/common/Printable.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway {

namespace {

// Names longer than this are not padded to: one long name must not push every line over.
constexpr std::size_t kNameColumn = 24;

double secondsBetween(ProgressClock::time_point from, ProgressClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The error without the "account: " that the job boundary put before it (the line names it).
std::string errorText(const PollResult& r) {
  std::string_view text = r.error->what();
  const std::string lead = r.account + ": ";
  if (!r.account.empty() && text.starts_with(lead)) text.remove_prefix(lead.size());
  return printable(text);
}

}  // namespace

std::string groupedNumber(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string binaryBytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string shortDuration(std::chrono::seconds duration) {
  const long long s = std::max<long long>(duration.count(), 0);
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  }
  return buf;
}

std::string fitWidth(std::string_view line, std::size_t width) {
  std::size_t pos = 0;
  for (std::size_t chars = 0; chars < width && pos < line.size(); ++chars) {
    if (!decodeUtf8(line, pos)) ++pos;  // a stray byte counts as one character
  }
  return std::string(line.substr(0, pos));
}

std::string progressText(const AccountProgress& a, ProgressClock::time_point now) {
  const PassProgress& p = a.pass;
  if (a.state == AccountProgress::State::Waiting) return "waiting";
  if (p.phase == PassProgress::Phase::Connecting) return "connecting";
  if (p.phase == PassProgress::Phase::Checking || !p.totals_known) {
    return groupedNumber(p.listed) + " listed, checking";
  }
  if (p.total == 0) return "nothing new (" + groupedNumber(p.listed) + " listed)";
  std::string text = groupedNumber(p.done) + "/" + groupedNumber(p.total) + " msgs  " +
                     binaryBytes(p.done_bytes);
  const double elapsed = secondsBetween(a.delivering_since, now);
  if (elapsed < 1.0 || p.done == 0) return text;  // too early for a rate worth showing
  if (p.done_bytes > 0) {
    text += "  " + binaryBytes(static_cast<std::uint64_t>(static_cast<double>(p.done_bytes) / elapsed)) + "/s";
  }
  // The ETA follows the bytes when the listing gave sizes, else the messages.
  double left = 0;
  if (p.total_bytes > 0 && p.done_bytes > 0) {
    left = static_cast<double>(p.total_bytes - std::min(p.done_bytes, p.total_bytes)) *
           elapsed / static_cast<double>(p.done_bytes);
  } else {
    left = static_cast<double>(p.total - std::min(p.done, p.total)) * elapsed /
           static_cast<double>(p.done);
  }
  return text + "  ETA " + shortDuration(std::chrono::seconds(static_cast<long long>(left + 0.5)));
}

std::string summaryText(const PollResult& r) {
  const std::uint64_t skipped = r.skipped + r.backlog + r.in_target + r.too_large;
  const std::uint64_t quarantined = r.rejected + r.quarantined;
  if (r.dry_run) {
    std::string s = "dry run: would deliver " + groupedNumber(r.uploaded) + " (" +
                    binaryBytes(r.bytes) + "), skip " + groupedNumber(skipped);
    return r.error ? s + "; failed: " + errorText(r) : s;
  }
  const std::string counts = groupedNumber(r.uploaded + r.recovered) + " delivered, " +
                             groupedNumber(skipped) + " skipped, " + groupedNumber(quarantined) +
                             " quarantined";
  if (r.error) return "failed: " + counts + ": " + errorText(r);
  std::string took;
  if (r.duration < std::chrono::minutes(1)) {  // a quick pass: tenths, not "0s"
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(r.duration.count()) / 1000.0);
    took = buf;
  } else {
    took = shortDuration(std::chrono::duration_cast<std::chrono::seconds>(r.duration));
  }
  return "done: " + counts + ", " + binaryBytes(r.bytes) + " in " + took;
}

OnceProgress::OnceProgress(std::vector<std::string> accounts, Mode mode) : mode_(mode) {
  for (std::string& name : accounts) {
    Entry e;
    e.account.name = printable(name);  // a name could hold anything a terminal would obey
    name_width_ = std::max(name_width_, std::min(e.account.name.size(), kNameColumn));
    entries_.push_back(std::move(e));
  }
}

void OnceProgress::started(std::size_t account, ProgressClock::time_point at) {
  std::lock_guard lock(mutex_);
  if (account >= entries_.size()) return;
  AccountProgress& a = entries_[account].account;
  a.state = AccountProgress::State::Running;
  a.pass = PassProgress{};
  a.started = at;
  a.delivering_since = at;
  urgent_ = true;
}

void OnceProgress::progressed(std::size_t account, const PassProgress& progress,
                              ProgressClock::time_point at) {
  std::lock_guard lock(mutex_);
  if (account >= entries_.size()) return;
  AccountProgress& a = entries_[account].account;
  if (a.state != AccountProgress::State::Running) return;
  if (progress.phase != a.pass.phase || progress.totals_known != a.pass.totals_known) {
    urgent_ = true;
    if (progress.totals_known && !a.pass.totals_known) a.delivering_since = at;
  }
  a.pass = progress;
}

void OnceProgress::finished(std::size_t account, const PollResult& result,
                            ProgressClock::time_point) {
  std::lock_guard lock(mutex_);
  if (account >= entries_.size()) return;
  Entry& e = entries_[account];
  e.account.state = AccountProgress::State::Finished;
  e.summary = summaryText(result);
  finish_order_.push_back(account);
  urgent_ = true;
}

bool OnceProgress::urgent() const {
  std::lock_guard lock(mutex_);
  return urgent_;
}

std::string OnceProgress::prefix(const std::string& name) const {
  if (mode_ == Mode::Plain) return name + ": ";
  std::string padded = name;
  if (padded.size() < name_width_) padded.resize(name_width_, ' ');
  return padded + "  ";
}

OnceProgress::Frame OnceProgress::frame(ProgressClock::time_point now, std::size_t width,
                                        std::size_t rows) {
  std::lock_guard lock(mutex_);
  urgent_ = false;
  Frame f;
  using State = AccountProgress::State;
  if (mode_ == Mode::Plain) {  // log lines: never cut, never redrawn
    for (Entry& e : entries_) {
      const AccountProgress& a = e.account;
      if (a.state == State::Waiting) continue;
      const std::string lead = prefix(a.name);
      if (!e.shown_start) {
        f.above.push_back(lead + "pass starts");
        e.shown_start = true;
        e.last_line = a.started;
      }
      if (!e.shown_totals && a.pass.totals_known) {
        f.above.push_back(lead + (a.pass.total == 0
                                      ? "nothing new (" + groupedNumber(a.pass.listed) + " listed)"
                                      : groupedNumber(a.pass.total) + " messages to deliver (" +
                                            binaryBytes(a.pass.total_bytes) + ") of " +
                                            groupedNumber(a.pass.listed) + " listed"));
        e.shown_totals = true;
        e.last_line = now;
        e.last_done = a.pass.done;
      }
      if (a.state == State::Running && e.shown_totals && a.pass.total > 0 &&
          a.pass.done != e.last_done && now - e.last_line >= kPlainEvery) {
        f.above.push_back(lead + progressText(a, now));
        e.last_line = now;
        e.last_done = a.pass.done;
      }
      if (a.state == State::Finished && !e.shown_summary) {
        f.above.push_back(lead + e.summary);
        e.shown_summary = true;
      }
    }
    return f;
  }

  for (const std::size_t i : finish_order_) {
    Entry& e = entries_[i];
    if (e.shown_summary) continue;
    // Written once and never redrawn: it may wrap, so the error is there in full.
    f.above.push_back(prefix(e.account.name) + e.summary);
    e.shown_summary = true;
  }
  std::vector<std::string> running;
  std::size_t waiting = 0;
  for (const Entry& e : entries_) {
    if (e.account.state == State::Running) {
      running.push_back(fitWidth(prefix(e.account.name) + progressText(e.account, now), width));
    } else if (e.account.state == State::Waiting) {
      ++waiting;
    }
  }
  // The block must fit on the screen, or the cursor cannot climb back to its first line.
  const std::size_t room = std::max<std::size_t>(rows, 2) - 1;
  const std::size_t lines = running.size() + (waiting > 0 ? 1 : 0);
  const std::size_t shown = lines <= room ? running.size() : room - 1;
  f.live.assign(running.begin(), running.begin() + static_cast<std::ptrdiff_t>(shown));
  if (shown < running.size() || waiting > 0) {
    std::string more;
    if (shown < running.size()) more = groupedNumber(running.size() - shown) + " more running";
    if (waiting > 0) {
      more += (more.empty() ? "" : ", ") + groupedNumber(waiting) +
              (waiting == 1 ? " account waiting" : " accounts waiting");
    }
    f.live.push_back(fitWidth("(" + more + ")", width));
  }
  return f;
}

std::string terminalUpdate(std::size_t drawn, const OnceProgress::Frame& frame) {
  // CSI n A: cursor up n lines; CSI K: erase to the end of the line; CSI J: erase below.
  std::string out = drawn > 0 ? "\r\x1b[" + std::to_string(drawn) + "A" : "\r";
  for (const std::string& line : frame.above) out += line + "\x1b[K\n";
  for (const std::string& line : frame.live) out += line + "\x1b[K\n";
  return out + "\x1b[J";
}

}  // namespace popgate::gateway
