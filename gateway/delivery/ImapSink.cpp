#include "ImapSink.h"

#include <set>
#include <utility>

namespace popgate::gateway {

ImapSink::~ImapSink() {
  // Answers still owed on the held session would confuse its next user: close it instead.
  if (held_ && !started_.empty()) {
    held_->discard();
  } else if (held_) {
    (*held_)->setWriteGuard({});  // back to the pool without this pass's guard
  }
}

template <class Work>
auto ImapSink::withSession(Work&& work) {
  ImapPool::Lease lease = held_ ? std::move(*held_) : pool_.acquire();
  held_.reset();
  lease->setWriteGuard(guard_);
  // Kept while answers are owed; else back to the pool without this pass's guard.
  const auto keepOrReturn = [this](ImapPool::Lease& l) {
    if (!started_.empty()) {
      held_.emplace(std::move(l));
    } else {
      l->setWriteGuard({});
    }
  };
  try {
    if constexpr (std::is_void_v<decltype(work(*lease))>) {
      work(*lease);
      keepOrReturn(lease);
    } else {
      auto result = work(*lease);
      keepOrReturn(lease);
      return result;
    }
  } catch (...) {
    started_.clear();  // unknown outcomes: the ledger keeps them in flight for recovery
    throw;             // the lease ends during unwinding: the session is closed, not reused
  }
}

std::vector<imap::AppendOutcome> ImapSink::append(const std::string& folder,
                                                  const std::vector<imap::AppendItem>& items) {
  return withSession([&](imap::ImapClient& session) { return session.append(folder, items); });
}

void ImapSink::start(const std::string& folder, std::vector<imap::AppendItem> items) {
  withSession([&](imap::ImapClient& session) {
    started_.push_back(session.appendStart(folder, std::move(items)));
  });
}

std::vector<imap::AppendOutcome> ImapSink::finish() {
  if (started_.empty()) {  // the session failed since: what was started is lost with it
    throw Error(ErrorKind::Transient, "the target session ended before its answers were read");
  }
  return withSession([&](imap::ImapClient& session) {
    std::vector<imap::AppendOutcome> outcomes = session.appendFinish(started_.front());
    started_.pop_front();
    return outcomes;
  });
}

imap::Lookup ImapSink::lookup(const std::string& folder, const imap::MessageFingerprint& fingerprint) {
  return withSession(
      [&](imap::ImapClient& session) { return session.lookup(folder, fingerprint); });
}

imap::CopySearch ImapSink::findCopies(const std::string& folder,
                                      const std::vector<std::string>& message_ids) {
  return withSession([&](imap::ImapClient& session) {
    imap::CopySearch result = session.findByMessageId(folder, message_ids);
    if (result.refused) return result;
    std::set<std::string> in_folder;
    for (const imap::HeaderCopy& copy : result.found) {
      if (copy.message_id) in_folder.insert(*copy.message_id);
    }
    std::vector<std::string> elsewhere;
    for (const std::string& id : message_ids) {
      if (in_folder.count(id) == 0) elsewhere.push_back(id);
    }
    if (elsewhere.empty()) return result;
    if (std::optional<imap::CopySearch> anywhere = session.findByMessageIdAnywhere(elsewhere)) {
      result.searched.insert(result.searched.end(), anywhere->searched.begin(),
                             anywhere->searched.end());
      result.found.insert(result.found.end(), anywhere->found.begin(), anywhere->found.end());
      result.refused = anywhere->refused;
    }
    return result;
  });
}

std::optional<std::uint64_t> ImapSink::appendLimit() {
  return withSession([](imap::ImapClient& session) { return session.appendLimit(); });
}

void ImapSink::prepare() {
  withSession([&](imap::ImapClient& session) {
    const bool waits = !session.multiAppends() &&
                       session.literalMode() != codec::LiteralMode::LiteralPlus;
    preferred_batch_ = waits ? kRoundTripBatch : SIZE_MAX;
  });
}

}  // namespace popgate::gateway
