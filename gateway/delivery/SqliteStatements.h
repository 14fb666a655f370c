#pragma once
// The statements a SqliteLedger runs on every pass, prepared once per connection and kept: an idle
// poll reads the ledger twice, and preparing (parsing, planning) cost more than running. Plain
// SQLite calls on the connection Poco::Data opened; the ledger's lock serialises every use.

#include <map>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace Poco::Data {
class Session;
}

namespace popgate::gateway {

class SqliteStatements {
 public:
  // Statements on `session` (a Poco::Data SQLite session that outlives this object).
  explicit SqliteStatements(Poco::Data::Session& session);
  ~SqliteStatements();
  SqliteStatements(const SqliteStatements&) = delete;
  SqliteStatements& operator=(const SqliteStatements&) = delete;

  // One run of the statement `sql` (a string literal: its address is the key), prepared on first
  // use; reset and its bindings cleared when the run ends, so no read stays open between passes.
  // Throws Poco::Data::SQLite's exceptions (as Poco::Data does) when SQLite reports an error.
  class Run {
   public:
    Run(SqliteStatements& owner, const char* sql);
    ~Run();
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    // Binds `text` (copied by SQLite) to the 1-based parameter `index`.
    void bind(int index, const std::string& text);
    // Steps to the next row: false when there is none.
    bool next();
    // Column `index` (0-based) of the current row.
    std::string text(int index) const;
    long long integer(int index) const;

   private:
    sqlite3* db_;
    sqlite3_stmt* statement_;
  };

 private:
  sqlite3_stmt* prepared(const char* sql);
  sqlite3* db_;
  std::map<const char*, sqlite3_stmt*> prepared_;
};

}  // namespace popgate::gateway
