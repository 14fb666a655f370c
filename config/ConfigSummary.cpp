// describe() and warnings() from ConfigLoader.h: what `popgate check` prints. Never a secret's
// value, only where it comes from.

#include <set>
#include <sstream>

#include "ConfigLoader.h"
#include "MessageText.h"
#include "Units.h"
#include "ValueChecks.h"
#include "YamlCursor.h"

namespace popgate::config {

namespace {

constexpr std::size_t kMinTokenBytes = 16;

bool isLoopback(const std::string& host) { return isLoopbackHost(host); }

std::string octal(std::uint32_t mode) {
  std::string out;
  for (int shift = 9; shift >= 0; shift -= 3) {
    out += static_cast<char>('0' + ((mode >> shift) & 7u));
  }
  return out;
}

// "KEY: FILE is readable by other users (mode 0644)".
std::string exposure(const SecretFile& secret) {
  return secret.key + ": " + printable(secret.file.string()) +
         " is readable by other users (mode " + octal(secret.mode) + ")";
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

// Where the login's secret comes from: the password's source, or the OAuth token endpoint.
std::string secretLine(const ServerEndpoint& server) {
  if (!server.oauth) return "secret from " + server.password_source;
  const OAuthSettings& oauth = *server.oauth;
  std::string out = "OAuth tokens from " + printable(oauth.token_url) + " (client_id " +
                    printable(oauth.client_id);
  if (!oauth.client_secret_source.empty()) out += ", client secret from " + oauth.client_secret_source;
  if (!oauth.scope.empty()) out += ", scope " + printable(oauth.scope);
  out += "), first refresh token from ";
  out += oauth.refresh_token_source.empty() ? "state_dir (popgate authorize)"
                                            : oauth.refresh_token_source;
  return out;
}

// "    preset gmail filled in: host pop.gmail.com, ..." or nothing.
std::string presetLine(const ServerEndpoint& server) {
  if (server.provider == Provider::None) return {};
  std::string out = "      preset " + std::string(providerName(server.provider));
  if (!server.tenant.empty()) out += " (tenant " + printable(server.tenant) + ")";
  if (server.preset_filled.empty()) return out + " filled in nothing: every key is written\n";
  out += " filled in: ";
  for (std::size_t i = 0; i < server.preset_filled.size(); ++i) {
    out += (i == 0 ? "" : ", ") + printable(server.preset_filled[i]);
  }
  return out + "\n";
}

std::string accountLine(const PopAccount& account, bool named_targets) {
  std::string out = account.name + ": " + connection(account.server) + ", auth " +
                    std::string(popAuthName(account.auth)) + " → " +
                    (named_targets ? account.target + ":" : std::string()) + printable(account.folder) +
                    ", every " + formatDuration(account.poll_interval) + ", " + retention(account) +
                    ", max " + formatSize(account.max_message_size) + ", timeout " +
                    formatDuration(account.server.timeout);
  if (!account.flags.empty()) {
    out += ", flags";
    for (const auto& flag : account.flags) out += " " + flag;
  }
  if (account.backlog != Backlog::All) out += ", backlog " + backlogText(account);
  if (account.dedupe != Dedupe::None) {
    out += ", dedupe " + std::string(dedupeName(account.dedupe));
  }
  return out + ", " + secretLine(account.server);
}

// Whether a Gmail API scope list lets users.messages.list search (q=) and .get read raw bytes.
bool gmailScopeCanSearch(const std::string& scope) {
  std::istringstream words(scope);
  for (std::string word; words >> word;) {
    if (word == "https://www.googleapis.com/auth/gmail.readonly" ||
        word == "https://www.googleapis.com/auth/gmail.modify" || word == "https://mail.google.com/") {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> warnings(const GatewayConfig& cfg) {
  std::vector<std::string> out;
  const auto plaintext = [&out](const std::string& who, const ServerEndpoint& server) {
    if (server.tls != TlsMode::None) return;
    out.push_back(who + ": tls: none sends the " +
                  (server.oauth ? "OAuth access token" : "password") + " for " + where(server) +
                  " in plaintext");
  };
  if (cfg.admin && cfg.admin->token.empty()) {
    out.push_back("admin: " + hostPort(cfg.admin->host, cfg.admin->port) +
                  (isLoopback(cfg.admin->host)
                       ? " has no token_file; every local user and process can read /status and "
                         "/metrics (set admin.token_file)"
                       : " is reachable off this host and has no token_file; anyone who can "
                         "connect can read /status and start polls"));
  }
  if (cfg.admin && !cfg.admin->token.empty() && cfg.admin->token.size() < kMinTokenBytes) {
    out.push_back("admin.token_file: the token has only " +
                  std::to_string(cfg.admin->token.size()) + " bytes; use at least " +
                  std::to_string(kMinTokenBytes) + " random ones (openssl rand -hex 32)");
  }
  for (const SecretFile& secret : cfg.secret_files) {
    if (!secret.readableByOthers()) continue;
    out.push_back(exposure(secret) + "; chmod 600 it" +
                  (cfg.allow_readable_secrets
                       ? " (allowed by allow_readable_secrets: true)"
                       : " (run and once refuse it unless allow_readable_secrets: true)"));
  }
  for (const ImapTarget& target : cfg.targets) {
    const std::string who = cfg.named_targets ? "target " + target.name : std::string("target");
    plaintext(who, target.server);
    if (target.kind == TargetKind::GmailApi && target.server.oauth &&
        !gmailScopeCanSearch(target.server.oauth->scope)) {
      out.push_back(who + ": oauth.scope has no read scope (gmail.readonly), so a message in "
                          "doubt after a crash cannot be searched for and is imported again: "
                          "a duplicate is possible (docs/gmail.md)");
    }
  }
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
    for (std::size_t i = 0; i < cfg.admin->allowed_hosts.size(); ++i) {
      out += (i == 0 ? " (also as " : ", ") + cfg.admin->allowed_hosts[i];
      if (i + 1 == cfg.admin->allowed_hosts.size()) out += ")";
    }
    if (cfg.admin->token_file) {
      out += ", token required except for /healthz (token_file " +
             printable(cfg.admin->token_file->string()) + ")\n";
    } else {
      out += ", no token required\n";
    }
  }
  if (cfg.notify) {  // no line without: the notices are off
    const NotifyConfig& n = *cfg.notify;
    out += "  notify     after " + formatDuration(n.after) + "; " +
           (n.mailbox ? "append to " + printable(*n.mailbox) : std::string("no mailbox")) + "; " +
           (n.webhook ? "POST to " + printable(n.webhook->text) : std::string("no webhook")) +
           "\n";
  }
  if (cfg.database) {  // no line without: the ledger is SQLite in state_dir
    const DatabaseConfig& db = *cfg.database;
    out += "  ledger     PostgreSQL " + printable(db.url) + ", lease_ttl " +
           formatDuration(db.lease_ttl) + ", " +
           (db.password_source.empty() ? std::string("no password (trust, peer or certificate)")
                                       : "secret from " + db.password_source) +
           " (shared by replicas)\n";
  }
  for (const ImapTarget& target : cfg.targets) {
    out += cfg.named_targets ? "  target " + target.name + "\n             " : "  target     ";
    const bool api = target.kind == TargetKind::GmailApi;
    out += api ? "Gmail API " + printable(target.api_url) + " as " +
                     printable(target.server.username) +
                     (target.never_mark_spam ? ", never marked spam" : ", spam filter on") +
                     (target.process_for_calendar ? ", invitations to Calendar" : "") + ", "
               : connection(target.server) + ", auth " + std::string(imapAuthName(target.auth)) + ", ";
    out += std::to_string(target.connections) +
           (target.connections == 1 ? " connection" : " connections") + ", timeout " +
           formatDuration(target.server.timeout) +
           (target.daily_upload_limit > 0
                ? ", at most " + formatSize(target.daily_upload_limit) + " a day"
                : std::string()) +
           ", " + secretLine(target.server) + "\n";
    out += presetLine(target.server);
  }
  std::set<std::string> folders;
  for (const auto& account : cfg.accounts) folders.insert(account.folder);
  out += "  folders    ";
  for (const auto& folder : folders) {
    out += (folder == *folders.begin() ? "" : ", ") + printable(folder);
  }
  out += "\n  accounts (" + std::to_string(cfg.accounts.size()) + ")\n";
  for (const auto& account : cfg.accounts) {
    out += "    " + accountLine(account, cfg.named_targets) + "\n" + presetLine(account.server);
  }
  for (const auto& warning : warnings(cfg)) out += "warning: " + warning + "\n";
  return out;
}

void requirePrivateSecrets(const GatewayConfig& cfg) {
  if (cfg.allow_readable_secrets) return;
  for (const SecretFile& secret : cfg.secret_files) {
    if (!secret.readableByOthers()) continue;
    failInFile(printable(cfg.source.string()), secret.line,
               exposure(secret) + ": chmod 600 it, or set allow_readable_secrets: true");
  }
}

}  // namespace popgate::config
