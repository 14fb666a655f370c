// describe() and warnings() from ConfigLoader.h: what `popgate check` prints. Never a secret's
// value, only where it comes from.

#include <set>

#include "ConfigLoader.h"
#include "MessageText.h"
#include "Units.h"

namespace popgate::config {

namespace {

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.starts_with("127.") || host == "::1";
}

std::string where(const ServerEndpoint& server) {
  return server.username + "@" + hostPort(server.host, server.port);
}

std::string connection(const ServerEndpoint& server) {
  std::string out = where(server) + ", tls " + std::string(tlsModeName(server.tls));
  if (server.ca_file) out += " (extra CA " + printable(server.ca_file->string()) + ")";
  return out;
}

std::string retention(const PopAccount& account) {
  if (!account.keep) return "delete from POP after upload";
  if (account.delete_after_days == 0) return "keep on POP";
  return "keep on POP, delete " + std::to_string(account.delete_after_days) +
         (account.delete_after_days == 1 ? " day" : " days") + " after upload";
}

std::string accountLine(const PopAccount& account) {
  std::string out = account.name + ": " + connection(account.server) + ", auth " +
                    std::string(popAuthName(account.auth)) + " → " + printable(account.folder) +
                    ", every " + formatDuration(account.poll_interval) + ", " + retention(account) +
                    ", max " + formatSize(account.max_message_size) + ", timeout " +
                    formatDuration(account.server.timeout);
  if (!account.flags.empty()) {
    out += ", flags";
    for (const auto& flag : account.flags) out += " " + flag;
  }
  return out + ", secret from " + account.server.password_source;
}

}  // namespace

std::vector<std::string> warnings(const GatewayConfig& cfg) {
  std::vector<std::string> out;
  const auto plaintext = [&out](const std::string& who, const ServerEndpoint& server) {
    if (server.tls != TlsMode::None) return;
    out.push_back(who + ": tls: none sends the password for " + where(server) + " in plaintext");
  };
  if (cfg.admin && cfg.admin->token.empty() && !isLoopback(cfg.admin->host)) {
    out.push_back("admin: " + hostPort(cfg.admin->host, cfg.admin->port) +
                  " is reachable off this host and has no token_file; anyone who can connect " +
                  "can read /status and start polls");
  }
  plaintext("target", cfg.target.server);
  for (const auto& account : cfg.accounts) {
    plaintext("account " + account.name, account.server);
    if (account.poll_interval < std::chrono::minutes(1)) {
      out.push_back("account " + account.name + ": poll_interval " +
                    formatDuration(account.poll_interval) +
                    " is very short; many providers lock accounts that log in this often");
    }
  }
  return out;
}

std::string describe(const GatewayConfig& cfg) {
  std::string out = "popgate configuration " + printable(cfg.source.string()) + "\n";
  out += "  state_dir  " + printable(cfg.state_dir.string()) + "\n";
  out += "  logging    " + std::string(logLevelName(cfg.log_level)) + ", " +
         std::string(logFormatName(cfg.log_format)) + "; up to " +
         std::to_string(cfg.max_parallel_polls) + " accounts polled at once\n";
  if (!cfg.admin) {
    out += "  admin      disabled\n";
  } else {
    out += "  admin      " + hostPort(cfg.admin->host, cfg.admin->port);
    if (cfg.admin->token_file) {
      out += ", token required except for /healthz (token_file " +
             printable(cfg.admin->token_file->string()) + ")\n";
    } else {
      out += ", no token required\n";
    }
  }
  const ImapTarget& target = cfg.target;
  out += "  target     " + connection(target.server) + ", auth " +
         std::string(imapAuthName(target.auth)) + ", " + std::to_string(target.connections) +
         (target.connections == 1 ? " connection" : " connections") + ", timeout " +
         formatDuration(target.server.timeout) + ", secret from " + target.server.password_source +
         (target.daily_upload_limit > 0
              ? ", at most " + formatSize(target.daily_upload_limit) + " a day"
              : std::string()) +
         "\n";
  std::set<std::string> folders;
  for (const auto& account : cfg.accounts) folders.insert(account.folder);
  out += "  folders    ";
  for (const auto& folder : folders) {
    out += (folder == *folders.begin() ? "" : ", ") + printable(folder);
  }
  out += "\n  accounts (" + std::to_string(cfg.accounts.size()) + ")\n";
  for (const auto& account : cfg.accounts) out += "    " + accountLine(account) + "\n";
  for (const auto& warning : warnings(cfg)) out += "warning: " + warning + "\n";
  return out;
}

}  // namespace popgate::config
