#include "App.h"

#include "Authorize.h"
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "Daemon.h"
#include "LedgerTransfer.h"
#include "HeapRelease.h"
#include "ProcessHardening.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/LedgerFactory.h"
#include "gateway/delivery/LeaseBoard.h"
#include "gateway/service/LeaseKeeper.h"
#include "gateway/service/Logging.h"
#include "gateway/service/OnceProgress.h"
#include "gateway/service/ProgressDisplay.h"
#include "gateway/service/PassRunner.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"
#include "gateway/service/UploadSettle.h"
#include "gateway/admin/AdminClient.h"
#include "gateway/admin/HealthProbe.h"
#include "gateway/admin/StatusTable.h"
#include "config/ConfigLoader.h"
#include "connectors/common/Error.h"

#ifndef POPGATE_VERSION
#define POPGATE_VERSION "dev"
#endif

namespace popgate::gateway {

namespace {

constexpr int kOk = 0;
constexpr int kAccountFailed = 1;
constexpr int kUnusable = 2;

constexpr const char* kUsage =
    "usage: popgate run    --config FILE                 daemon in the foreground\n"
    "       popgate once   --config FILE [--account NAME] one pass, then exit\n"
    "                      [--dry-run]                   say what the pass would upload, skip and\n"
    "                                                    delete, and do none of it\n"
    "       popgate check  --config FILE                 validate the config and secrets\n"
    "       popgate health --config FILE                 exit 0 when the daemon answers\n"
    "       popgate authorize --config FILE (--account NAME | --target [NAME]) [--port N]\n"
    "                                                    OAuth sign-in; stores the refresh token\n"
    "       popgate status --config FILE [--json]        the running daemon's accounts\n"
    "       popgate ledger export --config FILE [--out FILE|-]\n"
    "                                                    the whole ledger as a JSON document\n"
    "       popgate ledger import --config FILE [--in FILE|-] [--replace]\n"
    "                                                    write such a document into the ledger\n"
    "                                                    (popgate stopped; see docs/deployment.md)\n"
    "       popgate --help | --version\n"
    "exit codes: 0 success, 1 an account failed (status: one is failing), 2 the configuration is\n"
    "unusable (status: or the daemon cannot be asked)\n";

struct Args {
  std::string command;
  std::string config;
  std::optional<std::string> account;
  AuthorizeOptions authorize;  // authorize's own options
  bool json = false;
  bool dry_run = false;
  std::string file = "-";  // ledger export --out / import --in
  bool replace = false;    // ledger import --replace
};

// Parses the port of --port; throws Error(Config).
std::uint16_t portOption(const std::string& text) {
  unsigned long port = 0;
  for (const char c : text) {
    if (c < '0' || c > '9' || port > 65535) throw Error(ErrorKind::Config, "--port needs a number from 0 to 65535");
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (text.empty() || port > 65535) throw Error(ErrorKind::Config, "--port needs a number from 0 to 65535");
  return static_cast<std::uint16_t>(port);
}

// Parses argv; throws Error(Config) with a one-line reason.
Args parseArgs(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  Args args;
  if (a.empty()) throw Error(ErrorKind::Config, "no command given");
  args.command = a[0];
  std::size_t first = 1;
  if (args.command == "ledger") {  // two words: ledger export, ledger import
    if (a.size() < 2 || (a[1] != "export" && a[1] != "import")) {
      throw Error(ErrorKind::Config, "ledger needs export or import");
    }
    args.command += " " + a[1];
    first = 2;
  }
  for (std::size_t i = first; i < a.size(); ++i) {
    const std::string& opt = a[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= a.size()) throw Error(ErrorKind::Config, opt + " needs a value");
      return a[++i];
    };
    if (opt == "--config" || opt == "-c") {
      args.config = value();
    } else if (opt.rfind("--config=", 0) == 0) {
      args.config = opt.substr(9);
    } else if (opt == "--account" && args.command == "once") {
      args.account = value();
    } else if (opt.rfind("--account=", 0) == 0 && args.command == "once") {
      args.account = opt.substr(10);
    } else if (args.command == "authorize" && opt == "--account") {
      args.authorize.account = value();
    } else if (args.command == "authorize" && opt == "--target") {
      args.authorize.target = true;
      // A name follows for a target under `targets:`; the one `target:` needs none.
      if (i + 1 < a.size() && !a[i + 1].starts_with("-")) args.authorize.target_name = a[++i];
    } else if (args.command == "authorize" && opt == "--port") {
      args.authorize.port = portOption(value());
    } else if (args.command == "authorize" && opt == "--flow") {
      args.authorize.flow = value();
    } else if (args.command == "authorize" && opt == "--device-url") {
      args.authorize.device_url = value();
    } else if (args.command == "authorize" && opt == "--auth-url") {
      args.authorize.auth_url = value();
    } else if (opt == "--json" && args.command == "status") {
      args.json = true;
    } else if (opt == "--dry-run" && args.command == "once") {
      args.dry_run = true;
    } else if (opt == "--out" && args.command == "ledger export") {
      args.file = value();
    } else if (opt == "--in" && args.command == "ledger import") {
      args.file = value();
    } else if (opt == "--replace" && args.command == "ledger import") {
      args.replace = true;
    } else {
      throw Error(ErrorKind::Config, "unknown option " + opt + " for " + args.command);
    }
  }
  if (args.config.empty()) throw Error(ErrorKind::Config, args.command + " needs --config FILE");
  return args;
}

int commandCheck(const config::GatewayConfig& cfg) {
  std::cout << config::describe(cfg);
  std::cout << "configuration OK\n";
  return kOk;
}

int commandHealth(const config::GatewayConfig& cfg) {
  if (!cfg.admin) {
    throw Error(ErrorKind::Config, cfg.source.string() +
                                       ": admin: not configured, so there is no /healthz to ask");
  }
  return admin::probeHealth(cfg.admin->host, cfg.admin->port, std::chrono::seconds(5));
}

// `popgate status`: the daemon's /status as a table (or the JSON itself with --json). 0 when no
// account is failing, 1 when one is, 2 when the daemon cannot be asked or answers otherwise.
int commandStatus(const config::GatewayConfig& cfg, bool json) {
  if (!cfg.admin) {
    throw Error(ErrorKind::Config, cfg.source.string() +
                                       ": admin: not configured, so there is no /status to ask");
  }
  admin::AdminAnswer answer;
  try {
    answer = admin::askAdmin(cfg.admin->host, cfg.admin->port, "/status", cfg.admin->token,
                             std::chrono::seconds(10));
  } catch (const Error& e) {
    std::cerr << "popgate status: " << e.what() << "\n";
    return kUnusable;
  }
  if (answer.status != 200) {
    std::cerr << "popgate status: /status answered " << answer.status << " " << answer.reason
              << (answer.status == 401 ? " (admin.token_file does not hold the daemon's token)" : "")
              << "\n";
    return kUnusable;
  }
  admin::StatusTable table;
  try {
    table = admin::renderStatusTable(answer.body);
  } catch (const Error& e) {
    std::cerr << "popgate status: " << e.what() << "\n";
    return kUnusable;
  }
  std::cout << (json ? answer.body : table.text);
  return table.any_failing ? kAccountFailed : kOk;
}

// A dry run's plan lines per account, at most this many per action.
constexpr std::size_t kPlanLines = 50;

int commandOnce(const config::GatewayConfig& cfg, const std::optional<std::string>& only,
                bool dry_run) {
  setupLogging(cfg.log_level, cfg.log_format, std::cerr);
  std::vector<const config::PopAccount*> accounts;
  if (only) {
    const config::PopAccount* account = cfg.findAccount(*only);
    if (account == nullptr) {
      std::string known;
      for (const auto& a : cfg.accounts) known += (known.empty() ? "" : ", ") + a.name;
      throw Error(ErrorKind::Config, cfg.source.string() + ": no account named \"" + *only +
                                         "\" (accounts: " + known + ")");
    }
    accounts.push_back(account);
  } else {
    for (const auto& a : cfg.accounts) accounts.push_back(&a);
  }
  for (const std::string& warning : config::warnings(cfg)) logWarning(warning);
  prepareStateDir(cfg.state_dir, cfg.source);
  StateLock lock(cfg.state_dir);
  const UploadSettle settle(lock.previousHolderAlive());
  const std::unique_ptr<Ledger> opened = openLedger(cfg);
  Ledger& ledger = *opened;
  PollOptions options;
  options.dry_run = dry_run;
  if (dry_run) std::cout << "dry run: nothing is uploaded, deleted or recorded\n" << std::flush;

  // Progress goes where the log goes (stderr), never to stdout: stdout is the pass's report,
  // which scripts read. On a terminal it is redrawn in place, with log lines above it.
  std::vector<std::string> names;
  for (const config::PopAccount* a : accounts) names.push_back(a->name);
  const bool terminal = drawsInPlace(STDERR_FILENO);
  OnceProgress progress(std::move(names),
                        terminal ? OnceProgress::Mode::Terminal : OnceProgress::Mode::Plain);
  ProgressDisplay display(progress, STDERR_FILENO, terminal);
  // Log lines go above the live block while it is drawn, and back to stderr before the display
  // goes, however this function is left.
  struct LogAbove {
    const config::GatewayConfig& cfg;
    ProgressDisplay& display;
    bool terminal;
    LogAbove(const config::GatewayConfig& c, ProgressDisplay& d, bool t)
        : cfg(c), display(d), terminal(t) {
      if (terminal) setupLogging(cfg.log_level, cfg.log_format, display.logStream());
    }
    ~LogAbove() {
      display.stop();
      if (terminal) setupLogging(cfg.log_level, cfg.log_format, std::cerr);
    }
    LogAbove(const LogAbove&) = delete;
    LogAbove& operator=(const LogAbove&) = delete;
  };
  std::optional<LogAbove> above(std::in_place, cfg, display, terminal);
  PassEvents events;
  events.started = [&](std::size_t i) {
    progress.started(i, ProgressClock::now());
    display.refresh();
  };
  events.progress = [&](std::size_t i, const PassProgress& p) {
    progress.progressed(i, p, ProgressClock::now());
    display.refresh();
  };
  events.finished = [&](std::size_t i, const PollResult& r) {
    progress.finished(i, r, ProgressClock::now());
    display.refresh();
  };
  // A shared ledger: every account polled here under its lease (not as a replica: no share, no
  // heartbeat), renewed while the passes run; one a replica holds now is not polled. Given up
  // again at the end.
  std::unique_ptr<LeaseKeeper> keeper;
  if (auto* leases = dynamic_cast<LeaseBoard*>(&ledger); leases != nullptr && cfg.database) {
    keeper = std::make_unique<LeaseKeeper>(*leases, makeReplicaId(), cfg.database->lease_ttl,
                                           cfg.takeoverGrace());
    std::vector<std::string> polled;
    for (const config::PopAccount* account : accounts) polled.push_back(account->name);
    keeper->keepOnly(polled);
  }
  const std::vector<PollResult> results = runPasses(cfg, ledger, accounts, cfg.max_parallel_polls,
                                                    options, events, keeper.get(), &settle);
  if (keeper) keeper->leave();
  above.reset();  // the last frame; the report follows below it
  int code = kOk;
  for (const PollResult& r : results) {
    for (const std::string& p : r.problems.lines()) logWarning(r.account + ": " + p);
    if (!r.ok()) {
      logError(r.error->what());
      code = kAccountFailed;
    }
    std::cout << summarize(r) << "\n";
    for (const std::string& line : planLines(r, kPlanLines)) std::cout << line << "\n";
  }
  return code;
}

}  // namespace

int runApp(int argc, char** argv) {
  hardenProcess();  // before the first secret is read
  if (argc >= 2) {
    const std::string first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
      std::cout << kUsage;
      return kOk;
    }
    if (first == "--version" || first == "-V") {
      std::cout << "popgate " << POPGATE_VERSION << "\n";
      return kOk;
    }
  }
  Args args;
  try {
    args = parseArgs(argc, argv);
    if (args.command != "run" && args.command != "once" && args.command != "check" &&
        args.command != "health" && args.command != "authorize" && args.command != "status" &&
        args.command != "ledger export" && args.command != "ledger import") {
      throw Error(ErrorKind::Config, "unknown command \"" + args.command + "\"");
    }
  } catch (const Error& e) {
    std::cerr << "popgate: " << e.what() << "\n" << kUsage;
    return kUnusable;
  }
  try {
    // Before any thread exists (the config loader starts none), so all threads inherit the mask.
    if (args.command == "run") {
      blockDaemonSignals();
      keepBigBlocksApart();  // before the configuration's blocks come and go
    }
    config::GatewayConfig cfg = config::loadConfig(args.config);
    if (args.command == "check") return commandCheck(cfg);
    if (args.command == "status") return commandStatus(cfg, args.json);
    if (args.command != "health") config::requirePrivateSecrets(cfg);
    if (args.command == "ledger export") return LedgerTransfer(cfg).exportTo(args.file);
    if (args.command == "ledger import") {
      return LedgerTransfer(cfg).importFrom(args.file, args.replace);
    }
    if (args.command == "once") return commandOnce(cfg, args.account, args.dry_run);
    if (args.command == "health") return commandHealth(cfg);
    if (args.command == "authorize") return runAuthorize(cfg, args.authorize, std::cout);
    return runDaemon(args.config, std::move(cfg));
  } catch (const Error& e) {
    std::cerr << "popgate: " << e.what() << "\n";
    return e.kind() == ErrorKind::Config ? kUnusable : kAccountFailed;
  } catch (const std::exception& e) {
    std::cerr << "popgate: internal error: " << e.what() << "\n";
    return kAccountFailed;
  }
}

}  // namespace popgate::gateway
