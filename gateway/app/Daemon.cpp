#include "Daemon.h"

#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>

#include <pthread.h>
#include <unistd.h>

#include "gateway/delivery/Ledger.h"
#include "gateway/service/Logging.h"
#include "gateway/service/PassRunner.h"
#include "gateway/service/Scheduler.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"
#include "gateway/service/SystemdNotifier.h"
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

std::vector<QuarantinedMessage> quarantineOf(Ledger& ledger, const std::string& account) {
  std::vector<QuarantinedMessage> out;
  try {
    for (const LedgerEntry& e : ledger.quarantine(account)) {
      out.push_back(QuarantinedMessage{e.key, e.reason, e.attempts, e.retry_at});
    }
  } catch (const Error& e) {
    logWarning(account + ": cannot read the quarantine: " + e.what());
  }
  return out;
}

// Whether two target settings would open the same kind of session.
bool sameTarget(const config::ImapTarget& a, const config::ImapTarget& b) {
  return a.server.host == b.server.host && a.server.port == b.server.port &&
         a.server.tls == b.server.tls && a.server.ca_file == b.server.ca_file &&
         a.server.username == b.server.username &&
         a.server.password.reveal() == b.server.password.reveal() && a.auth == b.auth &&
         a.connections == b.connections && a.server.timeout == b.server.timeout &&
         a.daily_upload_limit == b.daily_upload_limit;
}

// What a reload cannot change without a restart.
void warnAboutFixedSettings(const config::GatewayConfig& running, const config::GatewayConfig& next) {
  if (running.state_dir != next.state_dir) {
    logWarning("state_dir changed in the configuration: it takes effect at the next restart");
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
  Ledger ledger(cfg->state_dir / "ledger.sqlite");
  StatusBoard board(POPGATE_VERSION);

  // Upload sessions are shared by every pass; a reload that changes the target replaces them.
  std::mutex pool_mutex;
  auto pool = makeImapPool(cfg->target, &ledger);
  config::ImapTarget pool_target = cfg->target;
  auto poolFor = [&](const config::GatewayConfig& c) {
    std::lock_guard guard(pool_mutex);
    if (!sameTarget(pool_target, c.target)) {
      pool->closeAll();
      pool = makeImapPool(c.target, &ledger);
      pool_target = c.target;
    }
    return pool;
  };

  Scheduler scheduler(board, [&ledger, &poolFor](const config::GatewayConfig& c,
                                                 const config::PopAccount& account,
                                                 const std::atomic<bool>& stop) {
    PollOptions options;
    options.stop = &stop;
    PassOutcome outcome;
    outcome.result = makePollJob(c, account, ledger, poolFor(c), options)->run();
    outcome.quarantine = quarantineOf(ledger, account.name);
    return outcome;
  });
  scheduler.configure(cfg);

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
  scheduler.start();
  // systemd (Type=notify): ready now; WATCHDOG=1 below only while the scheduler beats.
  const SystemdNotifier systemd = SystemdNotifier::fromEnvironment();
  const std::chrono::seconds stall_timeout = cfg->stall_timeout;
  systemd.notify("READY=1\nSTATUS=polling " + std::to_string(cfg->accounts.size()) +
                 " account(s)");
  for (const std::string& warning : config::warnings(*cfg)) logWarning(warning);
  logInfo(std::string("popgate ") + POPGATE_VERSION + " running: " +
          std::to_string(cfg->accounts.size()) + " account(s), target " +
          hostPort(cfg->target.server.host, cfg->target.server.port) +
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
        cfg = next;
        logInfo("configuration reloaded: " + std::to_string(cfg->accounts.size()) + " account(s)");
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
  {
    std::lock_guard guard(pool_mutex);
    pool->release();  // uploads waiting out a pause the target asked for end now
  }
  bool clean = scheduler.stop(std::chrono::seconds(4));
  if (!clean) {
    logWarning("a pass is held up by a slow server: cutting its connections");
    net::interruptAllTransports();
    clean = scheduler.stop(std::chrono::seconds(4));
  }
  if (server) server->stop();
  if (clean) pool->closeAll();
  if (!clean) {
    // The ledger makes this as safe as a crash: the next start looks up what was in flight.
    logWarning("a pass did not end in time and was abandoned; the next start resumes it");
    std::cout.flush();
    ::_exit(0);
  }
  logInfo("stopped");
  return 0;
}

}  // namespace popgate::gateway
