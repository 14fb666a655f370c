#include "GatewaySetup.h"


namespace popgate::test {

std::filesystem::path writeGatewayConfig(const TempDir& dir, const DovecotSandbox& sandbox,
                                         const std::string& target_user,
                                         const std::vector<AccountSetup>& accounts,
                                         const std::string& extra_top, std::size_t connections) {
  const std::string ca = sandbox.caFile().string();
  auto secret = [&](const std::string& name, const std::string& value) {
    return dir.write("secrets/" + name, value + "\n").string();
  };
  std::string y;
  y += "state_dir: " + (dir.path() / "state").string() + "\n";
  y += "log_level: info\n";
  y += extra_top;
  y += "target:\n";
  y += "  host: localhost\n";
  y += "  port: " + std::to_string(sandbox.imapPort()) + "\n";
  y += "  tls: starttls\n";
  y += "  ca_file: " + ca + "\n";
  y += "  username: " + target_user + "\n";
  y += "  password_file: " + secret("target", DovecotSandbox::password(target_user)) + "\n";
  y += "  connections: " + std::to_string(connections) + "\n";
  y += "  timeout: 20s\n";
  y += "accounts:\n";
  for (const AccountSetup& a : accounts) {
    const std::uint16_t port = a.tls == "implicit" ? sandbox.pop3sPort() : sandbox.pop3Port();
    y += "  - name: " + a.name + "\n";
    y += "    host: localhost\n";
    y += "    port: " + std::to_string(port) + "\n";
    y += "    tls: " + a.tls + "\n";
    y += "    ca_file: " + ca + "\n";
    y += "    username: " + a.name + "\n";
    y += "    password_file: " +
         secret(a.name, a.password.empty() ? DovecotSandbox::password(a.name) : a.password) + "\n";
    y += "    folder: " + a.folder + "\n";
    y += std::string("    keep: ") + (a.keep ? "true" : "false") + "\n";
    y += "    timeout: 20s\n";
    y += a.extra;
  }
  return dir.write("popgate.yaml", y);
}

CommandResult runPopgate(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{popgateBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, timeout);
}

}  // namespace popgate::test
