#pragma once
// An IMAP4rev1 client for delivery (RFC 3501/9051; LITERAL+/LITERAL- RFC 7888, UIDPLUS RFC 4315,
// MULTIAPPEND RFC 3502, SASL-IR RFC 4959) on a net::Connection. It appends raw bytes as literals and
// never parses a message.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/ImapCommand.h"
#include "connectors/codec/ImapNamespace.h"
#include "connectors/codec/ImapResponseParser.h"
#include "connectors/common/Error.h"
#include "connectors/common/Secret.h"
#include "connectors/imap/ImapTypes.h"
#include "connectors/net/Connection.h"

namespace popgate::imap {

// XOAuth2 and OAuthBearer carry an OAuth 2.0 access token instead of a password (docs/oauth.md).
enum class AuthMethod { Auto, Login, Plain, XOAuth2, OAuthBearer };

struct Credentials {
  std::string username;
  Secret password;  // sent on the wire only, never traced or put in an error; wiped when dropped
  AuthMethod method = AuthMethod::Auto;
  Secret access_token{};  // for XOAuth2/OAuthBearer: the same rules as the password
};

class ImapClient {
 public:
  // Reads the greeting and capabilities and, for TlsMode::StartTls, upgrades (PREAUTH, STARTTLS
  // not offered or refused: Error(Security)). Throws Error(Transient/Protocol/Security).
  ImapClient(std::unique_ptr<net::Transport> transport, const net::Endpoint& endpoint,
             net::TraceSink trace = {});
  ~ImapClient();

  // LOGIN or AUTHENTICATE PLAIN (Auto: PLAIN when offered, LOGIN unless LOGINDISABLED), or
  // AUTHENTICATE XOAUTH2 / OAUTHBEARER with the access token (SASL-IR where offered; a failure
  // challenge is answered and its JSON quoted in the error). PLAIN goes with an initial response
  // under SASL-IR, in two steps otherwise or when the initial response gets BAD; with Auto, a BAD
  // to both forms falls back to LOGIN. Tokens go only over TLS, or with tls: none
  // (Error(Security) otherwise). Throws Error(Auth) when refused, Error(Transient) for
  // [UNAVAILABLE] or an exchange that outlasts its deadline, Error(Throttled) when the account has
  // too many connections open, Error(Config) when Microsoft says "User is authenticated but not
  // connected" (token and mailbox do not match).
  void login(const Credentials& credentials);

  // Appends `items` to `mailbox` (UTF-8 name). Without waiting for "+" where LITERAL+/LITERAL-
  // allow it, several APPENDs travel pipelined. A missing mailbox ([TRYCREATE]) is created and the
  // refused appends retried. A [TRYCREATE] for a mailbox that exists (this session created or
  // listed it before, or CREATE finds it there: GNU mailutils says it for any failed APPEND, a
  // race of its own sessions included, and may have stored the message before it failed the
  // command) is retried only for the messages a lookup() does not find there (each item's
  // recoveryFingerprint(); one found counts as appended, without a UID), up to kTryCreateRounds
  // rounds in all. Returns one outcome per item, in
  // order; throws only when the connection fails (outcomes of that call are then unknown: treat
  // all as not uploaded).
  std::vector<AppendOutcome> append(std::string_view mailbox, const std::vector<AppendItem>& items);

  // append() in two halves, so that a caller can send its next messages before reading the
  // answers to these (their waits for "+" then overlap those answers). appendStart() sends the
  // APPENDs without reading their tagged replies; appendFinish() reads them, in start order, and
  // then does what append() does after sending (CREATE and retry, single-APPEND fallback). The
  // items' messages must outlive appendFinish(). Both throw only when the connection fails, and
  // then nothing started and unfinished on this session counts as uploaded.
  struct PendingAppend {
    std::string mailbox;
    std::string encoded;                   // the server's name for it
    std::vector<AppendItem> items;
    std::vector<AppendOutcome> outcomes;   // refused before sending, or answered early
    std::vector<std::size_t> sent;         // the items that went out, by index
    bool batch = false;                    // as one MULTIAPPEND
    std::vector<std::string> tags;         // per item: its command's tag; "" when settled
  };
  PendingAppend appendStart(std::string_view mailbox, std::vector<AppendItem> items);
  std::vector<AppendOutcome> appendFinish(PendingAppend& pending);

  // Whether a message with this fingerprint is in `mailbox` (crash recovery). UID SEARCH as
  // recoverySearches() says, and for each search the newest kRecoveryCandidates candidates not
  // read yet are fetched (BODY.PEEK[] cut at the fingerprint's size + 1, in one command) and
  // hashed as they stream by: Present only for content with the fingerprint's size and SHA-256. A mailbox
  // that does not exist is Absent; a refused EXAMINE, SEARCH or FETCH, or a message the parser
  // could not take whole, is Unknown. Throws on connection trouble.
  Lookup lookup(std::string_view mailbox, const MessageFingerprint& fingerprint);

  // The messages of `mailbox` (a folder name as append() takes it) whose Message-ID header
  // contains one of `ids` (UID SEARCH HEADER, RFC 3501 §6.4.4), with their Message-ID, Date and
  // From. The IDs are OR-ed into command lines of at most kMaxSearchLine characters, and the
  // searches, then the UID FETCH BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM)] of the hits, go
  // kSearchWindow commands at a time: a few round trips for thousands of IDs. Read-only (EXAMINE,
  // PEEK). A mailbox that does not exist holds none; IDs that are not printable ASCII, or too long
  // for a line, are not searched. A refusal is reported in the result. Throws on connection
  // trouble.
  CopySearch findByMessageId(std::string_view mailbox, const std::vector<std::string>& ids);
  // The same in the whole account, on Gmail (X-GM-EXT-1): X-GM-RAW "rfc822msgid:ID" in the
  // mailbox that LIST marks \All (RFC 6154; its name is in the user's language). nullopt when
  // the server lacks X-GM-EXT-1 or shows no \All mailbox (hidden from IMAP in Gmail's settings).
  std::optional<CopySearch> findByMessageIdAnywhere(const std::vector<std::string>& ids);
  // The server's name of the mailbox LIST marks with `attribute` ("\\All"); nullopt when none
  // does. LIST (SPECIAL-USE) where offered (RFC 6154 §3 with LIST-EXTENDED), else all of LIST.
  // Throws on connection trouble.
  std::optional<std::string> specialUseMailbox(std::string_view attribute);

  // Rounds of APPEND retries after [TRYCREATE] in one append(): a CREATE and then the retries.
  static constexpr int kTryCreateRounds = 4;

  // CREATE; an existing mailbox is fine. Servers refuse to create an existing mailbox in many
  // words ("NO Mailbox already exists", "NO Cannot create this folder.", "NO CREATE already
  // exists"), so any answer but OK or NO [ALREADYEXISTS] is followed by a LIST of the name, and
  // only a mailbox that LIST does not show fails: Error(MailboxProblem) with the server's answer
  // to the CREATE. One that LIST shows \Noselect (it cannot hold messages), and on Gmail any name
  // under "[Gmail]/" (never CREATEd there), is Error(Config) saying so. Returns true when this
  // CREATE made the mailbox, false when it was there already.
  bool create(std::string_view mailbox);

  // Every write of this session first asks `guard` (net::Connection::setWriteGuard); when it
  // throws, the session must be abandoned. Empty: no guard. Set by whoever borrows the session.
  void setWriteGuard(std::function<void()> guard) { connection_.setWriteGuard(std::move(guard)); }

  // LOGOUT, then close. Never throws.
  void logout() noexcept;
  // The two halves of logout(), so that many sessions can say goodbye in one round trip: send
  // LOGOUT on each, then finish each. Never throw.
  void startLogout() noexcept;
  void finishLogout() noexcept;

  bool hasCapability(std::string_view name) const;
  // The largest message the server takes (RFC 7889 APPENDLIMIT=n), when it says.
  std::optional<std::uint64_t> appendLimit() const;
  codec::LiteralMode literalMode() const;
  // Where to say things an administrator should know (a refused MULTIAPPEND batch...).
  void setNotice(std::function<void(std::string_view)> notice) { notice_ = std::move(notice); }
  // Use MULTIAPPEND batches when the server offers them (default true).
  void setMultiAppend(bool enabled) { multiappend_ = enabled; }
  // Whether several messages go out as one MULTIAPPEND command.
  bool multiAppends() const { return multiappend_ && hasCapability("MULTIAPPEND"); }

 private:
  struct Piece {
    std::string text;            // command text or literal bytes
    const MessageSource* source = nullptr;  // literal streamed from a source
    bool literal = false;
    bool binary = false;         // literal8 "~{n}" (RFC 3516)
  };
  std::string nextTag();
  // The server's name for `mailbox` in modified UTF-7: "/" separates levels in popgate's folder
  // names and becomes the server's hierarchy delimiter, and the name goes into the personal
  // namespace (Courier's "INBOX." prefix) unless it is INBOX or already there.
  std::string encodeMailbox(std::string_view mailbox);
  // NAMESPACE where offered, else LIST "" "" (delimiter only), once per session.
  const codec::PersonalNamespace& personalNamespace();
  void appendAstring(std::vector<Piece>& pieces, std::string_view value) const;
  // Sends a command made of text and literal pieces; waits for "+" where the literal mode needs it.
  // Returns the tagged reply early (without sending the rest) if the server refuses a literal.
  std::optional<codec::ImapTagged> sendPieces(const std::string& tag, const std::vector<Piece>& pieces,
                                              std::string_view trace);
  codec::ImapResponse readResponse(std::string_view what);
  // The error for an untagged BYE: Throttled when a usage limit ended the session (Gmail's
  // "[OVERQUOTA] Account exceeded command or bandwidth limits."), Transient otherwise.
  Error byeError(const codec::ImapUntagged& bye) const;
  // Throws Error(Transient) once more than 4 timeouts have passed since `started`: a server that
  // keeps each read alive with untagged responses (or challenges) must not hold `what` forever.
  void keepWaiting(std::chrono::steady_clock::time_point started, std::string_view what) const;
  // Keeps the answer to another outstanding command for later; false if nobody asked it.
  bool stash(codec::ImapTagged& tagged);
  // Reads until the tagged reply for `tag`, handing untagged responses to `on_untagged`.
  codec::ImapTagged readTagged(const std::string& tag, std::string_view what,
                               const std::function<void(const codec::ImapUntagged&)>& on_untagged = {});
  codec::ImapTagged simpleCommand(const std::vector<Piece>& pieces, std::string_view what,
                                  std::string_view trace,
                                  const std::function<void(const codec::ImapUntagged&)>& on_untagged = {});
  // AUTHENTICATE PLAIN without an initial response: the command, "+", then the response.
  codec::ImapTagged authenticatePlainTwoStep(const Secret& response);
  // LOGIN user password (Error(Auth) under LOGINDISABLED).
  codec::ImapTagged loginCommand(const Credentials& credentials);
  // How LIST shows the mailbox `encoded`: absent (or LIST refused), as one that can hold messages,
  // or as \Noselect (a node of the hierarchy only).
  // What LIST "" name shows: not there, a folder, a node that holds no messages, or no answer (a
  // refused LIST).
  enum class Listed { Missing, Selectable, NoSelect, Unanswered };
  Listed listed(const std::string& encoded);
  void readCapabilities();
  void noteCapabilities(std::string_view list);
  // AUTHENTICATE XOAUTH2 / OAUTHBEARER; returns on the tagged OK, throws otherwise (see login()).
  void authenticateOAuth(const Credentials& credentials, AuthMethod method);
  // The first command after an OAuth login: CAPABILITY, which also shows whether Microsoft let
  // the token open the mailbox.
  void confirmOAuthSession(const std::string& username);
  void startTls();
  // EXAMINE; the tagged reply (selected_ follows it).
  // Closes the EXAMINEd mailbox (UNSELECT, else CLOSE).
  void leaveMailbox();
  // Of the `refused` items of `p` (a [TRYCREATE] for a folder that exists), those lookup() does
  // not find in the folder; the ones it finds get an OK outcome. Leaves the folder unselected.
  std::vector<std::size_t> notStoredOf(PendingAppend& p, const std::vector<std::size_t>& refused);
  codec::ImapTagged examine(std::string_view encoded_mailbox);
  // UID SEARCH in the EXAMINEd mailbox: the UIDs, or nullopt when refused (the server's line
  // goes to `refusal`).
  std::optional<std::vector<std::uint32_t>> search(const RecoverySearch& criteria,
                                                   std::string& refusal);
  // Which of `uids` (of the EXAMINEd mailbox) holds exactly `size` bytes with this SHA-256: 0 for
  // none, nullopt when the FETCH was refused (the server's line goes to `refusal`).
  std::optional<std::uint32_t> sameContent(const std::vector<std::uint32_t>& uids,
                                           std::uint64_t size, const std::string& sha256,
                                           std::string& refusal);
  // Sends `commands` (without tags or line ends) kSearchWindow at a time, reading each window's
  // answers before the next goes out; untagged responses go to `on_untagged`. Stops after the
  // window with the first refusal and returns its line; nullopt when all were OK.
  std::optional<std::string> pipeline(const std::vector<std::string>& commands,
                                      std::string_view what,
                                      const std::function<void(const codec::ImapUntagged&)>& on_untagged);
  // findByMessageId() and findByMessageIdAnywhere() once the mailbox is chosen: EXAMINE
  // `encoded`, search for any of `keys` (search keys), fetch the header fields of the hits.
  CopySearch findCopies(const std::string& encoded, const std::vector<std::string>& keys);
  // Sends one APPEND per item of `which` (pipelined where the literal mode allows), or one
  // MULTIAPPEND for all of them (RFC 3502: all or nothing); records the tags in `p`.
  void sendSingles(PendingAppend& p, const std::vector<std::size_t>& which);
  void sendBatch(PendingAppend& p, const std::vector<std::size_t>& which);
  // Reads the answers to what sendSingles()/sendBatch() sent for `which`.
  void collect(PendingAppend& p, const std::vector<std::size_t>& which);
  Piece literalOf(const AppendItem& item) const;
  std::string appendArguments(const AppendItem& item) const;

  net::Connection connection_;
  std::chrono::milliseconds patience_;  // the configured timeout
  std::string host_;                    // for OAUTHBEARER's host= and port=
  std::uint16_t port_ = 0;
  TlsMode tls_ = TlsMode::Implicit;     // as configured: tokens need TLS unless it is None
  codec::ImapResponseParser parser_;
  std::set<std::string> caps_;  // upper-case
  bool preauth_ = false;
  std::uint32_t tag_counter_ = 0;
  std::string selected_;  // encoded name of the EXAMINEd mailbox, if any
  std::string bye_;       // text of an untagged BYE, if one arrived
  // Pipelined commands: tags sent and not yet answered, and answers that came while we were
  // waiting for something else (another command's reply, or a "+").
  std::set<std::string> outstanding_;
  std::map<std::string, codec::ImapTagged> answered_;
  std::string logout_tag_;
  std::function<void(std::string_view)> notice_;
  std::optional<codec::PersonalNamespace> namespace_;  // once logged in; delimiter "" = flat
  std::set<std::string> known_;  // encoded mailboxes this session created or saw in a LIST
  bool multiappend_ = true;
};

}  // namespace popgate::imap
