#include "PassRunner.h"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <thread>

#include "connectors/common/HostPort.h"
#include "gateway/delivery/GmailApiSink.h"
#include "gateway/delivery/HeldLedger.h"
#include "gateway/delivery/ImapSink.h"
#include "Logging.h"
#include "gateway/delivery/Pop3Source.h"
#include "OAuthTokens.h"
#include "TargetPools.h"

namespace popgate::gateway {

std::shared_ptr<ImapPool> makeImapPool(const config::ImapTarget& target, Ledger* ledger,
                                       std::shared_ptr<oauth::TokenManager> tokens) {
  // Each session gets a number in the trace: with 15 of them, lines are otherwise a puzzle.
  auto opened = std::make_shared<std::atomic<unsigned>>(0);
  const std::string label =
      target.name.empty() || target.name == config::kSingleTargetName ? std::string("imap#")
                                                                       : "imap:" + target.name + "#";
  auto pool = std::make_shared<ImapPool>(target, [target, opened, label, tokens] {
    if (target.kind == config::TargetKind::GmailApi) {
      // Its uploads go through GmailApiSink; the pool keeps only its gate and connections.
      throw Error(ErrorKind::Internal, "target " + target.name +
                                           " is kind: gmail-api and has no IMAP sessions");
    }
    return openImapSession(target, traceTo(label + std::to_string(++*opened)),
                           [](std::string_view text) { logWarning(text); }, tokens.get());
  });
  if (ledger != nullptr && pool->gate().budgeted()) {
    const auto since = static_cast<std::int64_t>(std::time(nullptr)) - 24 * 3600;
    for (const auto& [hour, bytes] : ledger->uploadsSince(target.name, since)) {
      pool->gate().uploaded(bytes, hour * 3600);
    }
  }
  return pool;
}

TargetStatus targetStatusOf(const config::ImapTarget& target, const ImapPool& pool) {
  TargetStatus status;
  status.name = target.name;
  status.host = hostPort(target.server.host, target.server.port);
  status.connections = target.connections;
  status.capacity = pool.capacity();
  const TargetGate::Snapshot gate = pool.gate().snapshot();
  status.paused_until = gate.paused_until;
  status.pause_reason = gate.pause_reason;
  status.daily_limit = gate.daily_limit;
  status.used = gate.used;
  status.next_room_at = gate.next_room_at;
  return status;
}

std::unique_ptr<PollJob> makePollJob(const config::GatewayConfig& cfg,
                                     const config::PopAccount& account, Ledger& ledger,
                                     std::shared_ptr<ImapPool> pool, PollOptions options,
                                     std::shared_ptr<oauth::TokenManager> tokens) {
  const config::PopAccount* acct = &account;
  const config::ImapTarget& target = cfg.targetOf(account);
  options.upload_threads = std::max<std::size_t>(target.connections, 1);
  options.gate = &pool->gate();
  options.target_name = account.target;
  options.reopen_without_pipelining = [acct, tokens] {
    pop3::Pop3Options pop3;
    pop3.allow_pipelining = false;
    return std::make_unique<Pop3Source>(*acct, traceTo(acct->name + " pop3"), pop3, tokens.get());
  };
  SinkFactory sink = [pool, guard = options.write_guard] {
    return std::make_unique<ImapSink>(*pool, guard);
  };
  if (target.kind == config::TargetKind::GmailApi) {
    // One label directory for every upload thread of the pass.
    const std::string who = target.name.empty() || target.name == config::kSingleTargetName
                                ? std::string("gmail")
                                : "gmail:" + target.name;
    auto api = std::make_shared<GmailApiTarget>(target, tokens.get(), traceTo(who));
    GmailApiSink::Options sink_options;
    sink_options.write_guard = options.write_guard;
    sink = [api, sink_options] { return std::make_unique<GmailApiSink>(api, sink_options); };
  }
  return std::make_unique<PollJob>(
      account, ledger,
      [acct, tokens] {
        return std::make_unique<Pop3Source>(*acct, traceTo(acct->name + " pop3"),
                                            pop3::Pop3Options{}, tokens.get());
      },
      std::move(sink), cfg.state_dir / "spool" / account.name, std::move(options));
}

void appendNotice(const config::ImapTarget& target, ImapPool& pool, oauth::TokenManager* tokens,
                  const std::string& mailbox, const std::string& message) {
  const imap::StringMessage bytes(message);
  const std::vector<imap::AppendItem> items{imap::AppendItem{&bytes, {}, std::nullopt}};
  std::vector<imap::AppendOutcome> outcomes;
  if (target.kind == config::TargetKind::GmailApi) {
    GmailApiSink sink(std::make_shared<GmailApiTarget>(target, tokens));
    outcomes = sink.append(mailbox, items);
  } else {
    outcomes = pool.acquire()->append(mailbox, items);
  }
  if (outcomes.empty() || !outcomes.front().ok) {
    throw Error(outcomes.empty() ? ErrorKind::Protocol : outcomes.front().kind,
                "the target refused the notice", outcomes.empty() ? "" : outcomes.front().reply);
  }
}

namespace {

// Until `account`'s lease, taken from a lapsed one, has settled (or `stop` is set).
void awaitSettled(const LeaseKeeper& leases, const std::string& account,
                  const std::atomic<bool>* stop) {
  while (const auto at = leases.settlesAt(account)) {
    if (stop != nullptr && stop->load()) return;
    std::this_thread::sleep_until(std::min(*at, std::chrono::steady_clock::now() +
                                                    std::chrono::milliseconds(200)));
  }
}

}  // namespace

std::vector<PollResult> runPasses(const config::GatewayConfig& cfg, Ledger& ledger,
                                  const std::vector<const config::PopAccount*>& accounts,
                                  unsigned parallel, const PollOptions& options,
                                  const PassEvents& events,
                                  LeaseKeeper* leases, const UploadSettle* settle) {
  auto tokens = makeTokenManager(cfg);
  TargetPools pools(&ledger, tokens);
  std::vector<PollResult> results(accounts.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < accounts.size(); i = next++) {
      logDebug(accounts[i]->name + ": pass starts");
      if (events.started) events.started(i);
      try {
        auto pool = pools.poolFor(cfg.targetOf(*accounts[i]));
        PollOptions mine = options;
        if (events.progress) {
          mine.progress = [&events, i](const PassProgress& p) { events.progress(i, p); };
        }
        if (settle != nullptr) {
          mine.settle_in_flight = [settle, &options, account = accounts[i],
                                   grace = cfg.targetOf(*accounts[i]).server.timeout] {
            settle->await(account->name, grace, options.stop);
          };
        }
        if (leases != nullptr) {
          const std::string& name = accounts[i]->name;
          awaitSettled(*leases, name, options.stop);
          const std::optional<LeaseHold> hold = leases->holdOf(name);
          if (!hold) throw Error(ErrorKind::Fenced, name + ": another replica holds it now; not polled");
          HeldLedger held(ledger, name, *hold);
          mine.write_guard = leases->writeGuard(name, *hold);
          results[i] = makePollJob(cfg, *accounts[i], held, pool, mine, tokens)->run();
          leases->passEnded(name, results[i].ok());
        } else {
          results[i] = makePollJob(cfg, *accounts[i], ledger, pool, mine, tokens)->run();
        }
      } catch (const Error& e) {
        results[i].account = accounts[i]->name;
        results[i].error = e;
      }
      if (events.finished) events.finished(i, results[i]);
    }
  };
  const std::size_t threads =
      std::clamp<std::size_t>(parallel, 1, std::max<std::size_t>(accounts.size(), 1));
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& t : workers) t.join();
  pools.closeAll();
  return results;
}

}  // namespace popgate::gateway
