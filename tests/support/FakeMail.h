#pragma once
// In-memory stand-ins for a POP3 maildrop and an IMAP target, for PollJob tests: deterministic,
// with the semantics that matter to the delivery promise (DELE only at a confirmed QUIT, APPEND
// outcomes per message, recovery lookup by fingerprint) and switches for faults.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/delivery/MailSink.h"
#include "gateway/delivery/MailSource.h"

namespace popgate::test {

// The server-side state of a POP3 account, shared by the sessions opened on it.
struct FakeMaildrop {
  struct Message {
    std::string uidl;
    std::string bytes;
  };
  std::vector<Message> messages;
  std::set<std::string> refuse_retr;  // UIDLs whose RETR answers -ERR
  bool expire_zero = false;            // CAPA EXPIRE 0: RETR'd messages vanish at QUIT
  bool quit_fails = false;
  std::uint64_t list_size_bonus = 0;  // LIST reports sizes this much smaller (a lying server)
  bool hide_all = false;               // the listing comes back empty (a server glitch)
  bool no_top = false;                 // the server has no TOP: readsHeaders() is false
  std::set<std::string> refuse_top;    // UIDLs whose TOP answers -ERR
  int sessions = 0;
  std::vector<std::string> retrieved;  // UIDLs in RETR order, across sessions
  std::vector<std::string> topped;     // UIDLs in TOP order, across sessions
  int header_rounds = 0;               // headers() calls

  // Adds a message; returns its UIDL.
  std::string add(std::string bytes, std::string uidl = {});
  // Opens a session (what a SourceFactory returns).
  std::unique_ptr<gateway::MailSource> open();
};

// The target mailbox. Sessions may append from several threads at once (upload threads).
struct FakeTarget {
  std::mutex mutex;  // guards everything below while sessions are open
  std::map<std::string, std::vector<std::string>> folders;
  // Decides each APPEND: return {} to accept, or a kind and reply text to refuse.
  std::function<std::optional<std::pair<ErrorKind, std::string>>(const std::string& bytes)> judge;
  bool fail_connection = false;  // every append throws Error(Transient)
  int appends = 0;               // APPEND commands accepted or refused
  int lookups = 0;               // lookup() calls
  bool refuse_search = false;    // lookup() answers Unknown (a server that refuses SEARCH)
  int refuse_search_times = 0;   // the next this many lookup()s answer Unknown (a passing refusal)
  bool drop_outcome = false;     // finish() returns one outcome fewer than it was given
  std::optional<std::uint64_t> append_limit;  // what appendLimit() answers (APPENDLIMIT)
  std::uint32_t next_uid = 1;
  // findCopies(): searches the folder as a server does (HEADER Message-ID is a case-insensitive
  // substring match) and, when `all_mail`, every folder for the IDs not found there (Gmail's
  // All Mail); `refuse_search` refuses it too.
  bool all_mail = false;
  int copy_searches = 0;                   // findCopies() calls
  std::vector<std::string> searched_ids;  // every Message-ID looked for, in order
  // What sessions report as MailSink::preferredBatch().
  std::size_t preferred_batch = SIZE_MAX;
  // Called (without the mutex) at each start() before it appends; may block to hold a session.
  std::function<void()> before_start;
  // "start N" / "finish N" per call (N counts starts), in the order the sessions made them.
  std::vector<std::string> events;
  int starts = 0;
  // When > 0, the finish() with this number (counting finishes) throws Error(Transient) as a
  // session lost while it owed answers, and so does every later finish() of that session.
  int fail_finish = 0;
  int finishes = 0;

  std::unique_ptr<gateway::MailSink> open();
  // Every message in every folder.
  std::vector<std::string> all() const;
};

}  // namespace popgate::test
