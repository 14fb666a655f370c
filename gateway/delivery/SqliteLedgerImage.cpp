// The whole SqliteLedger (SqliteLedger.h) read out and written back, for moving a ledger
// (popgate ledger export/import). Kept apart from the pass's reads and writes.

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include "LedgerSql.h"
#include "LedgerRows.h"
#include "SqlTransaction.h"
#include "SqliteLedger.h"
#include "connectors/common/Error.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway {

LedgerImage SqliteLedger::image() {
  std::lock_guard lock(mutex_);
  LedgerImage out;
  try {
    // One read transaction: one consistent picture.
    inTransaction(*session_,
                  [&] { out = LedgerSql(*session_, false, file_.string()).read(); });
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Internal,
                "ledger " + file_.string() + ": cannot read it whole: " + e.displayText());
  }
  return out;
}

void SqliteLedger::restore(const LedgerImage& image, bool replace) {
  std::lock_guard lock(mutex_);
  auto& s = *session_;
  try {
    inTransaction(s, [&] {
      LedgerSql steps(s, false, file_.string());
      for (const auto& [name, account] : image.accounts) {
        if (!replace) steps.refuseKnown(name);
        steps.clear(name);
        rows::EntryColumns entries;
        for (const auto& [key, entry] : account.rows) entries.add(entry);
        if (entries.size() > 0) {
          std::vector<std::string> owners(entries.size(), name);
          Poco::Data::Statement insert(s);
          insert << "INSERT INTO messages (account, " << rows::kEntryColumns
                 << ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              use(owners);
          rows::useEntries(insert, entries);
          insert.execute();
        }
        steps.writeExtras(name, account);
      }
      steps.writeUploads(image);
    });
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Internal,
                "ledger " + file_.string() + ": cannot write the import: " + e.displayText());
  }
}

}  // namespace popgate::gateway
