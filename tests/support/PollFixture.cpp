#include "PollFixture.h"

#include <algorithm>

#include "gateway/delivery/SqliteLedger.h"

namespace popgate::test {

void crash() { throw Error(ErrorKind::Internal, "simulated crash"); }

std::string message(int n, bool with_id) {
  std::string m = "From: a" + std::to_string(n) + "@example.org\r\n";
  if (with_id) m += "Message-ID: <m" + std::to_string(n) + "@example.org>\r\n";
  m += "Subject: test " + std::to_string(n) + "\r\nDate: Tue, 1 Jul 2025 10:52:37 +0200\r\n\r\n";
  m += "body " + std::string(static_cast<std::size_t>(n) * 100, 'x') + "\r\n.line\r\n";
  return m;
}

std::string lookAlike(int n) {
  std::string m = message(n);
  m[m.find("body ") + 5] = 'y';
  return m;
}

PollFixture::PollFixture() {
  account.name = "work";
  account.folder = "Work";
  ledger = std::make_unique<gateway::SqliteLedger>(dir.path() / "ledger.sqlite");
}

gateway::PollResult PollFixture::run(std::function<void(std::string_view)> hook,
                                     const std::atomic<bool>* stop) {
  return job(std::move(hook), stop)->run();
}

std::unique_ptr<gateway::PollJob> PollFixture::job(std::function<void(std::string_view)> hook,
                                                   const std::atomic<bool>* stop) {
  gateway::PollOptions options;
  options.stop = stop;
  options.gate = gate.get();
  options.window = 2;
  options.upload_threads = upload_threads;
  options.memory_limit = 300;  // some messages go through spool files
  options.step_hook = std::move(hook);
  options.clock = [this] { return clock; };
  options.dry_run = dry_run;
  options.settle_in_flight = settle_in_flight;
  return std::make_unique<gateway::PollJob>(account, *ledger, [this] { return drop.open(); },
                                            [this] { return target.open(); },
                                            dir.path() / "spool", options);
}

PollFixture::CrashRun PollFixture::runCrashingAt(int k) {
  std::atomic<int> seen{0};
  CrashRun r;
  r.result = run([&](std::string_view) {
    if (++seen >= k) crash();
  });
  r.steps = seen;
  r.crashed = seen >= k;
  return r;
}

std::size_t PollFixture::copies(const std::string& bytes) const {
  const auto all = target.all();
  return static_cast<std::size_t>(std::count(all.begin(), all.end(), bytes));
}

}  // namespace popgate::test
