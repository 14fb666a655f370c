#include "GatewaySetup.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <stdexcept>
#include <thread>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

namespace popgate::test {

namespace {

// Writes `value` as secrets/NAME in `dir`, readable by its owner only (run and once refuse
// secrets others can read); returns its path.
std::string secretFile(const TempDir& dir, const std::string& name, const std::string& value) {
  return dir.writePrivate("secrets/" + name, value + "\n").string();
}

// The settings of one IMAP target on the sandbox, each line indented by `indent`.
std::string targetLines(const TempDir& dir, const DovecotSandbox& sandbox, const std::string& indent,
                        const std::string& secret_name, const std::string& user,
                        std::size_t connections, std::uint16_t port, const std::string& timeout,
                        const std::string& tls = "starttls") {
  std::string y;
  y += indent + "host: localhost\n";
  y += indent + "port: " + std::to_string(port != 0 ? port : sandbox.imapPort()) + "\n";
  y += indent + "tls: " + tls + "\n";
  y += indent + "ca_file: " + sandbox.caFile().string() + "\n";
  y += indent + "username: " + user + "\n";
  y += indent + "password_file: " +
       secretFile(dir, secret_name, DovecotSandbox::password(user)) + "\n";
  y += indent + "connections: " + std::to_string(connections) + "\n";
  y += indent + "timeout: " + timeout + "\n";
  return y;
}

std::string accountLines(const TempDir& dir, const DovecotSandbox& sandbox,
                         const std::vector<AccountSetup>& accounts, const std::string& timeout) {
  const std::string ca = sandbox.caFile().string();
  std::string y = "accounts:\n";
  for (const AccountSetup& a : accounts) {
    const std::uint16_t port =
        a.port != 0 ? a.port : (a.tls == "implicit" ? sandbox.pop3sPort() : sandbox.pop3Port());
    y += "  - name: " + a.name + "\n";
    if (!a.target.empty()) y += "    target: " + a.target + "\n";
    y += "    host: " + a.host + "\n";
    y += "    port: " + std::to_string(port) + "\n";
    y += "    tls: " + a.tls + "\n";
    y += "    ca_file: " + ca + "\n";
    y += "    username: " + a.name + "\n";
    y += "    password_file: " +
         secretFile(dir, a.name, a.password.empty() ? DovecotSandbox::password(a.name) : a.password) +
         "\n";
    y += "    folder: " + a.folder + "\n";
    y += std::string("    keep: ") + (a.keep ? "true" : "false") + "\n";
    y += "    timeout: " + timeout + "\n";
    y += a.extra;
  }
  return y;
}

std::string topLines(const TempDir& dir, const std::string& extra_top) {
  return "state_dir: " + (dir.path() / "state").string() + "\nlog_level: info\n" + extra_top;
}

}  // namespace

std::filesystem::path writeGatewayConfig(const TempDir& dir, const DovecotSandbox& sandbox,
                                         const std::string& target_user,
                                         const std::vector<AccountSetup>& accounts,
                                         const std::string& extra_top, std::size_t connections,
                                         std::uint16_t target_port, const std::string& timeout,
                                         const std::string& target_tls) {
  std::string y = topLines(dir, extra_top);
  y += "target:\n";
  y += targetLines(dir, sandbox, "  ", "target", target_user, connections, target_port, timeout,
                   target_tls);
  y += accountLines(dir, sandbox, accounts, timeout);
  return dir.write("popgate.yaml", y);
}

std::filesystem::path writeTargetsConfig(const TempDir& dir, const DovecotSandbox& sandbox,
                                         const std::vector<TargetSetup>& targets,
                                         const std::vector<AccountSetup>& accounts,
                                         const std::string& extra_top, const std::string& timeout) {
  std::string y = topLines(dir, extra_top);
  y += "targets:\n";
  for (const TargetSetup& t : targets) {
    y += "  " + t.name + ":\n";
    y += targetLines(dir, sandbox, "    ", "target-" + t.name, t.user, t.connections, 0, timeout);
    y += t.extra;
  }
  y += accountLines(dir, sandbox, accounts, timeout);
  return dir.write("popgate.yaml", y);
}

ServerLogin pop3Login(const MailServer& server, const std::string& user) {
  return ServerLogin{server.pop3Port(), "none", {}, server.login(user), MailServer::password(user)};
}

ServerLogin imapLogin(const MailServer& server, const std::string& user) {
  return ServerLogin{server.imapPort(), "none", {}, server.login(user), MailServer::password(user)};
}

std::filesystem::path writePairedConfig(const TempDir& dir, const ServerLogin& target,
                                        const std::vector<PairedAccount>& accounts,
                                        std::size_t connections, const std::string& timeout,
                                        const std::string& log_level) {
  auto side = [&](const std::string& indent, const std::string& secret, const ServerLogin& s) {
    std::string y;
    y += indent + "host: 127.0.0.1\n";
    y += indent + "port: " + std::to_string(s.port) + "\n";
    y += indent + "tls: " + s.tls + "\n";
    if (!s.ca_file.empty()) y += indent + "ca_file: " + s.ca_file + "\n";
    y += indent + "username: " + s.username + "\n";
    y += indent + "password_file: " + secretFile(dir, secret, s.password) + "\n";
    y += indent + "timeout: " + timeout + "\n";
    return y;
  };
  std::string y;
  y += "state_dir: " + (dir.path() / "state").string() + "\n";
  y += "log_level: " + log_level + "\n";
  y += "target:\n" + side("  ", "target", target);
  y += "  connections: " + std::to_string(connections) + "\n";
  y += "accounts:\n";
  for (const PairedAccount& a : accounts) {
    y += "  - name: " + a.name + "\n";
    y += side("    ", a.name, a.pop);
    y += "    folder: " + a.folder + "\n";
    y += std::string("    keep: ") + (a.keep ? "true" : "false") + "\n";
    y += a.extra;
  }
  return dir.write("popgate.yaml", y);
}

CommandResult runPopgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{popgateBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, timeout);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

Tally tally(const std::vector<std::string>& sent, const std::vector<std::string>& arrived) {
  Tally t;
  t.sent = sent.size();
  std::map<std::string, std::size_t> copies;
  for (const std::string& m : arrived) ++copies[m];
  std::map<std::string, bool> seen;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto it = copies.find(sent[i]);
    if (it == copies.end() || it->second == 0) {
      ++t.lost;
      t.lost_indices.push_back(i);
      continue;
    }
    --it->second;
  }
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto it = copies.find(sent[i]);
    if (it != copies.end() && it->second > 0 && !seen[sent[i]]) {
      seen[sent[i]] = true;
      t.duplicated += it->second;
      t.duplicated_indices.push_back(i);
    }
  }
  for (const auto& [message, extra] : copies) {
    if (std::find(sent.begin(), sent.end(), message) == sent.end()) t.duplicated += extra;
  }
  return t;
}

std::ostream& operator<<(std::ostream& out, const Tally& t) {
  out << t.sent << " sent, " << t.lost << " lost, " << t.duplicated << " duplicated";
  auto list = [&](const char* what, const std::vector<std::size_t>& v) {
    if (v.empty()) return;
    out << "; " << what << ":";
    for (std::size_t i = 0; i < v.size() && i < 20; ++i) out << " #" << v[i];
  };
  list("lost", t.lost_indices);
  list("duplicated", t.duplicated_indices);
  return out;
}

std::size_t countOrZero(DovecotSandbox& sandbox, const std::string& user,
                        const std::string& folder) {
  try {
    return sandbox.count(user, folder);
  } catch (const std::runtime_error&) {
    return 0;
  }
}

std::uint16_t freeLocalPort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = socket.address().port();
  socket.close();
  return port;
}

HttpResponse httpRequest(const std::string& method, std::uint16_t port, const std::string& path,
                         const std::string& token) {
  HttpResponse out;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    request.setContentLength(0);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    out.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) out.headers[name] = value;
    Poco::StreamCopier::copyToString(in, out.body);
  } catch (const Poco::Exception&) {
    out.status = 0;
  }
  return out;
}

bool waitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ready();
}

void letItWork(Process& popgate, std::chrono::milliseconds delay) {
  auto until = std::chrono::steady_clock::now() + delay;
  bool waited = false;
  while (std::chrono::steady_clock::now() < until && popgate.running()) {
    if (!waited) {
      const std::string log = popgate.errorOutput();
      const std::string announced = "; waiting ";
      const std::size_t at = log.find(announced);
      if (at != std::string::npos && log.find(" s before looking for", at) != std::string::npos) {
        until += std::chrono::seconds(std::stoi(log.substr(at + announced.size())));
        waited = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string databaseSection(const TempDir& dir, const std::string& url,
                            const std::string& password) {
  const auto file = dir.writePrivate("pg-password", password + "\n");
  return "database:\n  url: " + url + "\n  password_file: " + file.string() + "\n";
}

}  // namespace popgate::test
