#pragma once
// A PollJob over an in-memory maildrop and target (FakeMail) with a real SQLite ledger in a
// temporary directory and a clock the test moves: the bench of the PollJob unit tests.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/delivery/PollJob.h"
#include "tests/support/FakeMail.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

// A crash: the job stops where it is; run() then drops the POP session without QUIT, as death would.
[[noreturn]] void crash();

// Message n: From a<n>@example.org, Message-ID <m<n>@example.org> (when `with_id`), Subject
// "test n", a fixed Date, and a body of n*100 bytes with a dot-leading line.
std::string message(int n, bool with_id = true);

// The same Message-ID, the same size, another content: what an automated sender that reuses IDs
// produces (two copies of one notice that differ in one byte).
std::string lookAlike(int n);

struct PollFixture {
  TempDir dir;
  FakeMaildrop drop;
  FakeTarget target;
  config::PopAccount account;
  std::unique_ptr<gateway::Ledger> ledger;
  std::int64_t clock = 1'750'000'000;
  std::size_t upload_threads = 0;  // 0: retrieve and upload in turn, deterministically
  std::unique_ptr<gateway::TargetGate> gate;  // the target's limits, when a test sets some
  bool dry_run = false;
  std::function<void()> settle_in_flight;  // PollOptions::settle_in_flight of every pass

  // Account "work" into folder "Work"; a fresh ledger.
  PollFixture();

  // One pass: windows of 2 messages, spool files above 300 bytes, the fixture's clock.
  gateway::PollResult run(std::function<void(std::string_view)> hook = {},
                          const std::atomic<bool>* stop = nullptr);
  // The job run() runs, for a test that asks it more after its pass.
  std::unique_ptr<gateway::PollJob> job(std::function<void(std::string_view)> hook = {},
                                        const std::atomic<bool>* stop = nullptr);

  // How many copies of `bytes` the target holds, in all folders.
  std::size_t copies(const std::string& bytes) const;

  // The kill-at-every-step tests' pass: it crashes at its k-th step (counted across threads; from
  // step k on every thread dies at its next step). `crashed` is false when the pass finished
  // before step k: every step has been tried, and `steps` says how many it took.
  struct CrashRun {
    gateway::PollResult result;
    int steps = 0;
    bool crashed = false;
  };
  CrashRun runCrashingAt(int k);
};

}  // namespace popgate::test
