#include "SqliteStatements.h"

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <sqlite3.h>

namespace popgate::gateway {

SqliteStatements::SqliteStatements(Poco::Data::Session& session)
    : db_(Poco::Data::SQLite::Utility::dbHandle(session)) {}

SqliteStatements::~SqliteStatements() {
  for (const auto& [sql, statement] : prepared_) sqlite3_finalize(statement);
}

sqlite3_stmt* SqliteStatements::prepared(const char* sql) {
  if (const auto it = prepared_.find(sql); it != prepared_.end()) return it->second;
  sqlite3_stmt* statement = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement);
    Poco::Data::SQLite::Utility::throwException(db_, rc);
  }
  prepared_.emplace(sql, statement);
  return statement;
}

SqliteStatements::Run::Run(SqliteStatements& owner, const char* sql)
    : db_(owner.db_), statement_(owner.prepared(sql)) {}

SqliteStatements::Run::~Run() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

void SqliteStatements::Run::bind(int index, const std::string& text) {
  const int rc = sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc);
}

bool SqliteStatements::Run::next() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Poco::Data::SQLite::Utility::throwException(db_, rc);
  return false;  // not reached: throwException throws
}

std::string SqliteStatements::Run::text(int index) const {
  const auto* bytes = sqlite3_column_text(statement_, index);
  if (bytes == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(bytes),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, index)));
}

long long SqliteStatements::Run::integer(int index) const {
  return sqlite3_column_int64(statement_, index);
}

}  // namespace popgate::gateway
