#pragma once
// A real PostgreSQL 15 on 127.0.0.1 for the tests of the shared ledger and of replicas: the C++
// face of deploy/sandbox/postgres-sandbox.sh (read its header for the server's setup).
//
//   PostgresSandbox pg;
//   std::string url = pg.createDatabase("ledger_a");   // a fresh database for one test
//   ... popgate with database: {url: URL, password_file: pg.passwordFile()} ...
//   BOOST_TEST(pg.query("select count(*) from ...", "ledger_a") == "3");
//
// Facts the tests rely on (PostgreSQL 15.x of Debian 12, checked): initdb + start take 1–5 s;
// the role "popgate" with password "pw-popgate" owns every database made here; fsync is off.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/Process.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

// One running PostgreSQL with its own directory and port. Not copyable or movable.
class PostgresSandbox {
 public:
  // initdb in a fresh temporary directory and start on a free port of 32000..32699 (below the
  // kernel's ephemeral range and the Dovecot sandboxes' ports), retrying another port when one
  // is taken meanwhile. Throws std::runtime_error with PostgreSQL's error text when it cannot.
  PostgresSandbox();
  // Stops the server; then the directory goes (kept with POPGATE_KEEP_TEMP=1). Never throws.
  // Should this process die first, a watchdog child does the same within about a second.
  ~PostgresSandbox();
  PostgresSandbox(const PostgresSandbox&) = delete;
  PostgresSandbox& operator=(const PostgresSandbox&) = delete;

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The owner role's password and a file holding it (for database.password_file).
  static std::string password() { return "pw-popgate"; }
  std::filesystem::path passwordFile() const { return dir() / "password"; }
  // postgresql://popgate@127.0.0.1:PORT/DB (no password in it).
  std::string url(const std::string& database = "popgate") const;
  // Creates database `name` ([a-z0-9_]+, dropped first when it exists) owned by popgate; its url.
  // Throws std::runtime_error.
  std::string createDatabase(const std::string& name);
  // Runs `sql` with psql in `database`; its output (unaligned, tuples only, trailing newline
  // removed). Throws std::runtime_error with psql's error.
  std::string query(const std::string& sql, const std::string& database = "popgate");
  // The server's log so far (for failure messages).
  std::string log() const;
  // deploy/sandbox/postgres-sandbox.sh of the source tree.
  static std::filesystem::path script();

 private:
  bool tryStart();
  void stop() noexcept;

  TempDir dir_;
  std::uint16_t port_ = 0;
  bool running_ = false;
  std::unique_ptr<Process> watchdog_;
};

}  // namespace popgate::test
