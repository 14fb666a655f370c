#pragma once
// One SQLite transaction around a piece of work, for the ledger's files.

#include <Poco/Data/Session.h>

namespace popgate::gateway {

// Runs `work` between begin() and commit() on `session`; when anything throws, rolls back (a
// failing rollback is ignored: the connection is gone anyway) and rethrows. All or nothing, also
// for a popgate killed halfway through.
template <typename Work>
void inTransaction(Poco::Data::Session& session, Work&& work) {
  session.begin();
  try {
    work();
    session.commit();
  } catch (...) {
    try {
      session.rollback();
    } catch (...) {
    }
    throw;
  }
}

}  // namespace popgate::gateway
