#include "Daemon.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <set>

#include <pthread.h>
#include <unistd.h>

#include "HeapRelease.h"
#include "gateway/delivery/HeldLedger.h"
#include "gateway/delivery/LeaseBoard.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/LedgerFactory.h"
#include "gateway/service/LeaseKeeper.h"
#include "gateway/service/Logging.h"
#include "gateway/service/OAuthTokens.h"
#include "gateway/service/Notifier.h"
#include "gateway/service/WebhookPoster.h"
#include "gateway/service/PassRunner.h"
#include "gateway/service/Scheduler.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"
#include "gateway/service/UploadSettle.h"
#include "gateway/service/SystemdNotifier.h"
#include "gateway/service/TargetPools.h"
#include "gateway/service/WatchdogFeeder.h"
#include "gateway/admin/AdminServer.h"
#include "config/ConfigLoader.h"
#include "connectors/net/Transport.h"

#ifndef POPGATE_VERSION
#define POPGATE_VERSION "dev"
#endif

namespace popgate::gateway {

namespace {

sigset_t daemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

std::vector<QuarantinedMessage> quarantined(const std::vector<LedgerEntry>& rows) {
  std::vector<QuarantinedMessage> out;
  for (const LedgerEntry& e : rows) {
    out.push_back(QuarantinedMessage{e.key, e.reason, e.attempts, e.retry_at});
  }
  return out;
}

std::vector<QuarantinedMessage> quarantineOf(Ledger& ledger, const std::string& account) {
  try {
    return quarantined(ledger.quarantine(account));
  } catch (const Error& e) {
    logWarning(account + ": cannot read the quarantine: " + e.what());
  }
  return {};
}

std::set<std::string> accountNames(const config::GatewayConfig& cfg) {
  std::set<std::string> names;
  for (const config::PopAccount& account : cfg.accounts) names.insert(account.name);
  return names;
}

// Who each account's notices are addressed to: its target's user.
std::map<std::string, std::string> noticeRecipients(const config::GatewayConfig& cfg) {
  std::map<std::string, std::string> recipients;
  for (const config::PopAccount& account : cfg.accounts) {
    recipients[account.name] = cfg.targetOf(account).server.username;
  }
  return recipients;
}

// What a reload cannot change without a restart.
void warnAboutFixedSettings(const config::GatewayConfig& running, const config::GatewayConfig& next) {
  if (running.state_dir != next.state_dir) {
    logWarning("state_dir changed in the configuration: it takes effect at the next restart");
  }
  const bool database_changed =
      running.database.has_value() != next.database.has_value() ||
      (running.database && (running.database->url != next.database->url ||
                            running.database->password.reveal() != next.database->password.reveal() ||
                            running.database->lease_ttl != next.database->lease_ttl));
  if (database_changed) {
    logWarning("database settings changed: they take effect at the next restart");
  }
  const bool admin_changed =
      running.admin.has_value() != next.admin.has_value() ||
      (running.admin && (running.admin->host != next.admin->host ||
                         running.admin->port != next.admin->port ||
                         running.admin->token.reveal() != next.admin->token.reveal()));
  if (admin_changed || running.stall_timeout != next.stall_timeout ||
      (running.admin && next.admin && running.admin->allowed_hosts != next.admin->allowed_hosts)) {
    logWarning("admin settings (or stall_timeout) changed: they take effect at the next restart");
  }
}

}  // namespace

void blockDaemonSignals() {
  const sigset_t set = daemonSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int runDaemon(const std::filesystem::path& config_file, config::GatewayConfig initial) {
  auto cfg = std::make_shared<const config::GatewayConfig>(std::move(initial));
  setupLogging(cfg->log_level, cfg->log_format, std::cout);

  prepareStateDir(cfg->state_dir, cfg->source);
  StateLock lock(cfg->state_dir);
  // What an earlier process (or a failed pass) may still have on its way to a target.
  UploadSettle settle(lock.previousHolderAlive());
  const std::unique_ptr<Ledger> opened = openLedger(*cfg);
  Ledger& ledger = *opened;
  StatusBoard board(POPGATE_VERSION);
  auto tokens = makeTokenManager(*cfg);  // refresh tokens live in state_dir: fixed until restart
  reportTo(board, *tokens);
  declareOAuthLogins(board, *cfg);

  // Upload sessions are shared by every pass to the same target; a reload that changes a target
  // replaces its pool.
  TargetPools pools(&ledger, tokens);
  std::mutex cfg_mutex;  // guards `cfg` for the status board's reads during a reload
  board.setTargetProbe([&pools, &cfg, &cfg_mutex] {
    std::shared_ptr<const config::GatewayConfig> current;
    {
      std::lock_guard guard(cfg_mutex);
      current = cfg;
    }
    return pools.status(*current);
  });

  // Notices to the user, fed by every pass (so declared before the scheduler), delivered on their
  // own thread through the shared upload sessions of the first target (never holding up a pass)
  // and the webhook.
  NoticeSender sender;
  sender.append = [&](const std::string& account, const std::string& mailbox,
                       const std::string& message) {
    std::shared_ptr<const config::GatewayConfig> current;
    {
      std::lock_guard guard(cfg_mutex);
      current = cfg;
    }
    // The account's own target (a family's notices never land in another member's mailbox); an
    // account since removed: the first target.
    const config::PopAccount* known = current->findAccount(account);
    const config::ImapTarget& target =
        known != nullptr ? current->targetOf(*known) : current->targets.front();
    appendNotice(target, *pools.poolFor(target), tokens.get(), mailbox, message);
  };
  auto webhook_cancel = std::make_shared<WebhookCancel>();
  sender.post = [webhook_cancel](const config::WebhookUrl& url, const std::string& title,
                                 const std::string& body) {
    postWebhook(url, title, body, std::chrono::seconds(30), webhook_cancel.get());
  };
  sender.interrupt = [webhook_cancel] { webhook_cancel->cancel(); };
  Notifier notifier(ledger, std::move(sender));
  notifier.configure(cfg->notify, cfg->targets.front().server.username, noticeRecipients(*cfg));
  notifier.keepAccounts(accountNames(*cfg));
  // Replicas sharing a PostgreSQL ledger: each account is polled by the one replica that holds
  // its lease, and its pass writes under that lease (HeldLedger): fenced once it is lost.
  std::unique_ptr<LeaseKeeper> keeper;
  if (auto* leases = dynamic_cast<LeaseBoard*>(&ledger); leases != nullptr && cfg->database) {
    keeper = std::make_unique<LeaseKeeper>(*leases, makeReplicaId(), cfg->database->lease_ttl,
                                           cfg->takeoverGrace());
  }
  Scheduler scheduler(board, [&ledger, &pools, &tokens, &keeper, &board, &settle](
                                 const config::GatewayConfig& c, const config::PopAccount& account,
                                 const std::atomic<bool>& stop) {
    PollOptions options;
    options.stop = &stop;
    options.settle_in_flight = [&settle, &account, &stop, grace = c.targetOf(account).server.timeout] {
      settle.await(account.name, grace, &stop);
    };
    // /status shows how far the pass has got.
    options.progress = [&board, name = account.name](const PassProgress& p) {
      board.passProgress(name, p);
    };
    PassOutcome outcome;
    std::optional<HeldLedger> held;
    if (keeper) {
      const std::optional<LeaseHold> hold = keeper->holdOf(account.name);
      if (!hold) {
        throw Error(ErrorKind::Fenced, account.name + ": its lease is not held by replica " +
                                           keeper->replica() + " any more");
      }
      held.emplace(ledger, account.name, *hold);
      options.write_guard = keeper->writeGuard(account.name, *hold);
    }
    Ledger& pass_ledger = held ? static_cast<Ledger&>(*held) : ledger;
    // Whether the pass left anything on its way to the target, for whoever holds it next.
    struct TellTheKeeper {
      LeaseKeeper* keeper;
      const std::string& account;
      bool clean = false;
      ~TellTheKeeper() {
        if (keeper != nullptr) keeper->passEnded(account, clean);
      }
    } tell{keeper.get(), account.name};
    auto job = makePollJob(c, account, pass_ledger, pools.poolFor(c.targetOf(account)), options,
                           tokens);
    outcome.result = job->run();
    tell.clean = !outcome.result.error.has_value();
    if (!tell.clean) settle.passFailed(account.name);
    // An idle pass knows its quarantine already: one ledger read fewer per poll.
    const auto rows = job->quarantine();
    outcome.quarantine = rows ? quarantined(*rows) : quarantineOf(ledger, account.name);
    return outcome;
  });
  scheduler.configure(cfg);
  if (keeper) {
    LeaseKeeper& k = *keeper;
    scheduler.onlyWhen([&k](const std::string& account) { return k.holdOf(account).has_value(); });
    k.start(
        [&cfg, &cfg_mutex] {
          std::lock_guard guard(cfg_mutex);
          std::vector<std::string> names;
          for (const config::PopAccount& a : cfg->accounts) names.push_back(a.name);
          return names;
        },
        [&scheduler](const std::string& account) { return scheduler.running(account); });
    board.setClusterProbe([&k] {
      return ClusterStatus{k.replica(), k.lastReplicas(), k.lastLeases()};
    });
    logInfo("replica " + k.replica() + ": sharing the accounts through " + ledger.where() +
            " (lease_ttl " + std::to_string(cfg->database->lease_ttl.count()) + " s)");
  }
  // The keeper's thread asks the scheduler which passes run: it stops before the scheduler goes.
  // Leaving early (an error), passes may still run: the leases are left to lapse, not given up.
  struct LeaveBeforeTheScheduler {
    LeaseKeeper* keeper;
    ~LeaveBeforeTheScheduler() {
      if (keeper != nullptr) keeper->leave(false);
    }
  } leave_first{keeper.get()};
  scheduler.onPassFinished([&notifier](const PollResult& r) { notifier.passFinished(r); });

  std::optional<admin::AdminServer> server;
  if (cfg->admin) {
    admin::AdminSettings settings;
    settings.host = cfg->admin->host;
    settings.port = cfg->admin->port;
    settings.token = cfg->admin->token;
    settings.allowed_hosts = cfg->admin->allowed_hosts;
    settings.stall_timeout = cfg->stall_timeout;
    server.emplace(std::move(settings), board, [&scheduler](const std::string& account) {
      return scheduler.pollNow(account) ? admin::PollRequest::Accepted
                                        : admin::PollRequest::UnknownAccount;
    });
    server->start();
  }
  releaseFreedMemory();  // the configuration's parse tree, before the passes begin
  scheduler.start();
  notifier.start();
  // systemd (Type=notify): ready now; WATCHDOG=1 below only while the scheduler beats.
  const SystemdNotifier systemd = SystemdNotifier::fromEnvironment();
  const std::chrono::seconds stall_timeout = cfg->stall_timeout;
  systemd.notify("READY=1\nSTATUS=polling " + std::to_string(cfg->accounts.size()) +
                 " account(s)");
  for (const std::string& warning : config::warnings(*cfg)) logWarning(warning);
  logInfo(std::string("popgate ") + POPGATE_VERSION + " running: " +
          std::to_string(cfg->accounts.size()) + " account(s), " +
          (cfg->targets.size() == 1
               ? "target " + hostPort(cfg->targets.front().server.host, cfg->targets.front().server.port)
               : std::to_string(cfg->targets.size()) + " targets") +
          (cfg->admin ? ", admin on http://" + hostPort(cfg->admin->host, server->port())
                      : std::string(", no admin endpoint")));

  const sigset_t set = daemonSignals();
  WatchdogFeeder watchdog(systemd, board, stall_timeout);
  for (;;) {
    const int signal = watchdog.waitForSignal(set);
    if (signal == 0) continue;  // a watchdog turn
    if (signal == SIGHUP) {
      systemd.notify("RELOADING=1");
      logInfo("SIGHUP: reloading " + config_file.string());
      try {
        auto next = std::make_shared<const config::GatewayConfig>(config::loadConfig(config_file));
        config::requirePrivateSecrets(*next);
        warnAboutFixedSettings(*cfg, *next);
        setupLogging(next->log_level, next->log_format, std::cout);
        scheduler.configure(next);
        declareOAuthLogins(board, *next);
        {
          std::lock_guard guard(cfg_mutex);
          cfg = next;
        }
        pools.retain(*cfg);
        if (keeper) keeper->wake();  // take or give up accounts the reload added or removed
        notifier.configure(next->notify, next->targets.front().server.username,
                           noticeRecipients(*next));
        notifier.keepAccounts(accountNames(*next));
        logInfo("configuration reloaded: " + std::to_string(cfg->accounts.size()) + " account(s)");
        releaseFreedMemory();
      } catch (const Error& e) {
        logError(std::string("configuration reload failed, still running on the previous one: ") +
                 e.what());
      }
      systemd.notify("READY=1");
      continue;
    }
    logInfo(std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT") +
            ": stopping (passes end at their next safe point)");
    break;
  }
  systemd.notify("STOPPING=1");

  // Passes end at their next safe point; one held up by a slow server gets its connections cut
  // (what was in flight stays in flight in the ledger, and is looked up next time).
  pools.releaseAll();  // uploads waiting out a pause the target asked for end now
  bool clean = scheduler.stop(std::chrono::seconds(4));
  if (!clean) {
    logWarning("a pass is held up by a slow server: cutting its connections");
    net::interruptAllTransports();
    clean = scheduler.stop(std::chrono::seconds(4));
  }
  // Every pass has ended: the other replicas take the accounts over at once. (Not clean: a pass
  // may still be sending, so the leases lapse and their takers wait the grace.)
  if (keeper) keeper->leave(clean);
  if (clean) notifier.stop();  // a webhook POST in progress is cut short; the notice stays queued
  if (server) server->stop();
  board.setTargetProbe({});
  board.setClusterProbe({});
  if (clean) pools.closeAll();
  if (!clean) {
    // The ledger makes this as safe as a crash: the next start looks up what was in flight.
    // _exit runs no destructor, so nothing (ledger, pool, scheduler) is destroyed under the pass
    // still running; every log line is already flushed.
    logWarning("a pass did not end in time and was abandoned; the next start resumes it");
    ::_exit(0);
  }
  logInfo("stopped");
  return 0;
}

}  // namespace popgate::gateway
