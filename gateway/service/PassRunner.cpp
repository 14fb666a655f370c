#include "PassRunner.h"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <thread>

#include "gateway/delivery/ImapSink.h"
#include "Logging.h"
#include "gateway/delivery/Pop3Source.h"

namespace popgate::gateway {

namespace {

// The one target's name in the ledger's upload history.
constexpr const char* kTargetName = "target";

}  // namespace

std::shared_ptr<ImapPool> makeImapPool(const config::ImapTarget& target, Ledger* ledger) {
  // Each session gets a number in the trace: with 15 of them, lines are otherwise a puzzle.
  auto opened = std::make_shared<std::atomic<unsigned>>(0);
  auto pool = std::make_shared<ImapPool>(target, [target, opened] {
    return openImapSession(target, traceTo("imap#" + std::to_string(++*opened)),
                           [](std::string_view text) { logWarning(text); });
  });
  if (ledger != nullptr && pool->gate().budgeted()) {
    const auto since = static_cast<std::int64_t>(std::time(nullptr)) - 24 * 3600;
    for (const auto& [hour, bytes] : ledger->uploadsSince(kTargetName, since)) {
      pool->gate().uploaded(bytes, hour * 3600);
    }
  }
  return pool;
}

std::unique_ptr<PollJob> makePollJob(const config::GatewayConfig& cfg,
                                     const config::PopAccount& account, Ledger& ledger,
                                     std::shared_ptr<ImapPool> pool, PollOptions options) {
  const config::PopAccount* acct = &account;
  options.upload_threads = std::max<std::size_t>(cfg.target.connections, 1);
  options.gate = &pool->gate();
  options.target_name = kTargetName;
  options.reopen_without_pipelining = [acct] {
    pop3::Pop3Options pop3;
    pop3.allow_pipelining = false;
    return std::make_unique<Pop3Source>(*acct, traceTo(acct->name + " pop3"), pop3);
  };
  return std::make_unique<PollJob>(
      account, ledger,
      [acct] { return std::make_unique<Pop3Source>(*acct, traceTo(acct->name + " pop3")); },
      [pool] { return std::make_unique<ImapSink>(*pool); },
      cfg.state_dir / "spool" / account.name, std::move(options));
}

std::vector<PollResult> runPasses(const config::GatewayConfig& cfg, Ledger& ledger,
                                  const std::vector<const config::PopAccount*>& accounts,
                                  unsigned parallel) {
  auto pool = makeImapPool(cfg.target, &ledger);
  std::vector<PollResult> results(accounts.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < accounts.size(); i = next++) {
      logDebug(accounts[i]->name + ": pass starts");
      results[i] = makePollJob(cfg, *accounts[i], ledger, pool)->run();
    }
  };
  const std::size_t threads =
      std::clamp<std::size_t>(parallel, 1, std::max<std::size_t>(accounts.size(), 1));
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& t : workers) t.join();
  pool->closeAll();
  return results;
}

}  // namespace popgate::gateway
