#include "App.h"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "Daemon.h"
#include "ProcessHardening.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/service/Logging.h"
#include "gateway/service/PassRunner.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"
#include "gateway/admin/HealthProbe.h"
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
    "       popgate check  --config FILE                 validate the config and secrets\n"
    "       popgate health --config FILE                 exit 0 when the daemon answers\n"
    "       popgate --help | --version\n"
    "exit codes: 0 success, 1 an account failed, 2 the configuration is unusable\n";

struct Args {
  std::string command;
  std::string config;
  std::optional<std::string> account;
};

// Parses argv; throws Error(Config) with a one-line reason.
Args parseArgs(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  Args args;
  if (a.empty()) throw Error(ErrorKind::Config, "no command given");
  args.command = a[0];
  for (std::size_t i = 1; i < a.size(); ++i) {
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

int commandOnce(const config::GatewayConfig& cfg, const std::optional<std::string>& only) {
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
  Ledger ledger(cfg.state_dir / "ledger.sqlite");
  const std::vector<PollResult> results =
      runPasses(cfg, ledger, accounts, cfg.max_parallel_polls);
  int code = kOk;
  for (const PollResult& r : results) {
    for (const std::string& p : r.problems.lines()) logWarning(r.account + ": " + p);
    if (!r.ok()) {
      logError(r.error->what());
      code = kAccountFailed;
    }
    std::cout << summarize(r) << "\n";
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
        args.command != "health") {
      throw Error(ErrorKind::Config, "unknown command \"" + args.command + "\"");
    }
  } catch (const Error& e) {
    std::cerr << "popgate: " << e.what() << "\n" << kUsage;
    return kUnusable;
  }
  try {
    // Before any thread exists (the config loader starts none), so all threads inherit the mask.
    if (args.command == "run") blockDaemonSignals();
    config::GatewayConfig cfg = config::loadConfig(args.config);
    if (args.command == "check") return commandCheck(cfg);
    if (args.command != "health") config::requirePrivateSecrets(cfg);
    if (args.command == "once") return commandOnce(cfg, args.account);
    if (args.command == "health") return commandHealth(cfg);
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
