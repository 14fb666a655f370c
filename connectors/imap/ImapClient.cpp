#include "ImapClient.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/ImapServerHints.h"
#include "connectors/codec/OAuthSasl.h"
#include "connectors/codec/Sasl.h"
#include "connectors/common/Ascii.h"
#include "connectors/common/Printable.h"
#include "connectors/codec/Sha256.h"

namespace popgate::imap {

namespace {

std::string statusName(codec::ImapStatus status) {
  switch (status) {
    case codec::ImapStatus::Ok: return "OK";
    case codec::ImapStatus::No: return "NO";
    case codec::ImapStatus::Bad: return "BAD";
    case codec::ImapStatus::Bye: return "BYE";
    case codec::ImapStatus::PreAuth: return "PREAUTH";
    case codec::ImapStatus::None: return "";
  }
  return "";
}

std::string taggedLine(const codec::ImapTagged& t) {
  std::string line = t.tag + " " + statusName(t.status);
  if (!t.code.empty()) line += " [" + t.code + "]";
  if (!t.text.empty()) line += " " + t.text;
  return line;
}

std::string untaggedLine(const codec::ImapUntagged& u) {
  std::string line = "*";
  if (u.number) line += " " + std::to_string(*u.number);
  line += " " + (u.status != codec::ImapStatus::None ? statusName(u.status) : u.keyword);
  if (!u.code.empty()) line += " [" + u.code + "]";
  if (!u.text.empty()) line += " " + u.text;
  return line;
}

// How to treat a refused APPEND: RFC 5530 response codes, and what Gmail and Microsoft 365 say
// when they want a pause (codec/ImapServerHints).
ErrorKind appendFailureKind(const codec::ImapTagged& t) {
  if (codec::throttleHint(t.code, t.text).throttled) return ErrorKind::Throttled;
  if (codec::messageTooBig(t.code, t.text)) return ErrorKind::MessageRejected;
  const std::string name = codec::codeName(t.code);
  if (name == "OVERQUOTA") return ErrorKind::OverQuota;
  if (name == "TRYCREATE" || name == "NONEXISTENT" || name == "NOPERM") {
    return ErrorKind::MailboxProblem;
  }
  if (name == "UNAVAILABLE" || name == "INUSE" || name == "SERVERBUG" || name == "LIMIT") {
    return ErrorKind::Transient;
  }
  return ErrorKind::MessageRejected;
}

// How long a session ended by a usage limit ("* BYE [OVERQUOTA] Account exceeded command or
// bandwidth limits.") keeps the target paused: Gmail does not say, and its limits are per hour and
// per day.
constexpr std::chrono::milliseconds kUsageLimitPause = std::chrono::hours(1);

// How long to stay away after "Too many simultaneous connections" when the server names no time.
constexpr std::chrono::milliseconds kConnectionLimitPause = std::chrono::minutes(1);

// Room on a search line for the tag, "UID SEARCH " and the line end.
constexpr std::size_t kSearchLineOverhead = 32;
// Search keys OR-ed into one command, at most (a balanced OR tree: 8 levels deep).
constexpr std::size_t kMaxKeysPerSearch = 256;
// The bytes of one header-fields answer kept, at most (three fields, folded or not).
constexpr std::size_t kMaxHeaderFields = 64 * 1024;
constexpr const char* kHeaderFields = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM)]";

// Whether `id` can go into a search line: printable ASCII, short enough for a line of its own.
bool searchable(std::string_view id) {
  if (id.empty() || id.size() > kMaxSearchLine / 2) return false;
  for (const char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// "OR a b" over keys[lo, hi), balanced so that a long list nests only log2(n) deep.
std::string anyOf(const std::vector<std::string>& keys, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1) return keys[lo];
  const std::size_t mid = lo + (hi - lo) / 2;
  return "OR " + anyOf(keys, lo, mid) + " " + anyOf(keys, mid, hi);
}

// "UID SEARCH <any of the keys>" commands, each line within kMaxSearchLine.
std::vector<std::string> searchCommands(const std::vector<std::string>& keys) {
  std::vector<std::string> commands;
  std::size_t first = 0;
  while (first < keys.size()) {
    std::size_t last = first;
    std::size_t length = kSearchLineOverhead + keys[first].size();
    while (last + 1 < keys.size() && last + 1 - first < kMaxKeysPerSearch &&
           length + 4 + keys[last + 1].size() <= kMaxSearchLine) {
      ++last;
      length += 4 + keys[last].size();  // "OR " and a space per key more
    }
    commands.push_back("UID SEARCH " + anyOf(keys, first, last + 1));
    first = last + 1;
  }
  return commands;
}

// "UID FETCH <set> (...)" commands for `uids` (sorted, unique), ranges folded ("3:7,9"), each
// line within kMaxSearchLine.
std::vector<std::string> headerFetchCommands(const std::vector<std::uint32_t>& uids) {
  const std::string tail = std::string(" (UID ") + kHeaderFields + ")";
  std::vector<std::string> commands;
  std::string set;
  auto flush = [&] {
    if (!set.empty()) commands.push_back("UID FETCH " + set + tail);
    set.clear();
  };
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    std::string range = std::to_string(uids[i]);
    if (j > i) range += ":" + std::to_string(uids[j]);
    if (set.size() + range.size() + tail.size() + kSearchLineOverhead > kMaxSearchLine) flush();
    set += (set.empty() ? "" : ",") + range;
    i = j + 1;
  }
  flush();
  return commands;
}


}  // namespace

ImapClient::ImapClient(std::unique_ptr<net::Transport> transport, const net::Endpoint& endpoint,
                       net::TraceSink trace)
    : connection_(std::move(transport),
                  endpoint.protocol.empty() ? "IMAP " + endpoint.label() : endpoint.label(),
                  endpoint.timeout, std::move(trace)),
      patience_(endpoint.timeout),
      host_(endpoint.host),
      port_(endpoint.port),
      tls_(endpoint.tls) {
  const codec::ImapResponse hello = readResponse("greeting");
  const auto* greeting = std::get_if<codec::ImapUntagged>(&hello);
  if (greeting == nullptr || (greeting->status != codec::ImapStatus::Ok &&
                              greeting->status != codec::ImapStatus::PreAuth)) {
    const std::string line = greeting ? untaggedLine(*greeting) : std::string("(not a greeting)");
    throw Error(ErrorKind::Transient, connection_.label() + " refused the session", line);
  }
  preauth_ = greeting->status == codec::ImapStatus::PreAuth;
  if (preauth_ && endpoint.tls == TlsMode::StartTls) {
    // docs/protocol-notes.md, "STARTTLS rules": a PREAUTH greeting makes STARTTLS impossible; never continue in plaintext.
    throw Error(ErrorKind::Security,
                connection_.label() + " greeted with PREAUTH, so STARTTLS cannot be used; "
                                      "refusing to continue without TLS (tls: starttls)");
  }
  if (codec::codeName(greeting->code) == "CAPABILITY") {
    noteCapabilities(std::string_view(greeting->code).substr(10));
  } else {
    readCapabilities();
  }
  if (endpoint.tls == TlsMode::StartTls) startTls();
}

ImapClient::~ImapClient() { connection_.close(); }

std::string ImapClient::nextTag() {
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%04u", ++tag_counter_);
  return buf;
}

bool ImapClient::hasCapability(std::string_view name) const { return caps_.count(upperAscii(name)) > 0; }

std::optional<std::uint64_t> ImapClient::appendLimit() const {
  // RFC 7889: "APPENDLIMIT=n" is the largest message any mailbox takes; a bare "APPENDLIMIT"
  // means limits differ per mailbox (not known here).
  for (const std::string& cap : caps_) {
    if (!cap.starts_with("APPENDLIMIT=")) continue;
    const std::string_view digits = std::string_view(cap).substr(12);
    std::uint64_t value = 0;
    bool ok = !digits.empty() && digits.size() <= 19;
    for (const char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (ok) return value;
  }
  return std::nullopt;
}

codec::LiteralMode ImapClient::literalMode() const {
  if (hasCapability("LITERAL+")) return codec::LiteralMode::LiteralPlus;
  if (hasCapability("LITERAL-")) return codec::LiteralMode::LiteralMinus;
  return codec::LiteralMode::Synchronizing;
}

void ImapClient::noteCapabilities(std::string_view list) {
  caps_.clear();
  std::size_t pos = 0;
  while (pos < list.size()) {
    const std::size_t end = std::min(list.find(' ', pos), list.size());
    if (end > pos) caps_.insert(upperAscii(list.substr(pos, end - pos)));
    pos = end + 1;
  }
}

codec::ImapResponse ImapClient::readResponse(std::string_view what) {
  codec::ImapResponse response;
  parser_.reset();
  connection_.pump(what, parser_,
                   [&](std::string_view& in) { return parser_.parse(in, response); });
  if (connection_.tracing()) {
    if (const auto* t = std::get_if<codec::ImapTagged>(&response)) {
      connection_.traceIn(taggedLine(*t));
    } else if (const auto* u = std::get_if<codec::ImapUntagged>(&response)) {
      connection_.traceIn(untaggedLine(*u));
    } else {
      connection_.traceIn("+ " + std::get<codec::ImapContinuation>(response).text);
    }
  }
  return response;
}

bool ImapClient::stash(codec::ImapTagged& tagged) {
  if (outstanding_.erase(tagged.tag) == 0) return false;
  std::string tag = tagged.tag;
  answered_.emplace(std::move(tag), std::move(tagged));
  return true;
}

Error ImapClient::byeError(const codec::ImapUntagged& bye) const {
  if (codec::usageLimitBye(bye.code, bye.text)) {
    return Error(ErrorKind::Throttled,
                 connection_.label() +
                     " ended the session: the account's command or bandwidth limit is reached; "
                     "uploads to it pause",
                 untaggedLine(bye))
        .withRetryAfter(kUsageLimitPause);
  }
  return Error(ErrorKind::Transient, connection_.label() + " ended the session", untaggedLine(bye));
}

void ImapClient::keepWaiting(std::chrono::steady_clock::time_point started,
                             std::string_view what) const {
  // Untagged responses keep each read alive; they must not keep an answer waiting forever.
  const auto limit = 4 * patience_;
  if (std::chrono::steady_clock::now() - started <= limit) return;
  throw Error(ErrorKind::Transient,
              connection_.label() + " sent only untagged responses for " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) +
                  " s while we waited for " + std::string(what));
}

codec::ImapTagged ImapClient::readTagged(
    const std::string& tag, std::string_view what,
    const std::function<void(const codec::ImapUntagged&)>& on_untagged) {
  if (auto it = answered_.find(tag); it != answered_.end()) {
    codec::ImapTagged early = std::move(it->second);
    answered_.erase(it);
    return early;
  }
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    keepWaiting(started, what);
    codec::ImapResponse response = readResponse(what);
    if (auto* tagged = std::get_if<codec::ImapTagged>(&response)) {
      if (tagged->tag == tag) {
        outstanding_.erase(tag);
        return std::move(*tagged);
      }
      if (stash(*tagged)) continue;  // a pipelined command's answer, in its own time
      throw Error(ErrorKind::Protocol,
                  connection_.label() + " answered a command we did not send while we waited for " +
                      std::string(what),
                  taggedLine(*tagged));
    }
    if (std::holds_alternative<codec::ImapContinuation>(response)) {
      throw Error(ErrorKind::Protocol, connection_.label() + " asked for data we did not announce (" +
                                           std::string(what) + ")");
    }
    const auto& untagged = std::get<codec::ImapUntagged>(response);
    if (untagged.status == codec::ImapStatus::Bye) {
      bye_ = untaggedLine(untagged);
      throw byeError(untagged);
    }
    if (on_untagged) on_untagged(untagged);
    // Anything else (EXISTS, EXPUNGE, FETCH, [ALERT] ...) is not ours to act on.
  }
}

std::optional<codec::ImapTagged> ImapClient::sendPieces(const std::string& tag,
                                                        const std::vector<Piece>& pieces,
                                                        std::string_view trace) {
  const codec::LiteralMode mode = literalMode();
  outstanding_.insert(tag);
  connection_.queue({}, trace);
  for (const Piece& piece : pieces) {
    if (!piece.literal) {
      connection_.queue(piece.text);
      continue;
    }
    const std::uint64_t size = piece.source ? piece.source->size() : piece.text.size();
    const codec::LiteralPrefix prefix = codec::literalPrefix(size, mode);
    connection_.queue((piece.binary ? "~" : "") + prefix.text + "\r\n");
    if (prefix.needs_wait) {
      connection_.flush();
      const auto started = std::chrono::steady_clock::now();
      for (;;) {
        keepWaiting(started, "the go-ahead for a literal");
        codec::ImapResponse response = readResponse("the go-ahead for a literal");
        if (std::holds_alternative<codec::ImapContinuation>(response)) break;
        if (auto* tagged = std::get_if<codec::ImapTagged>(&response)) {
          // The server refused instead of saying "+": the literal must not be sent.
          if (tagged->tag == tag) {
            outstanding_.erase(tag);
            return std::move(*tagged);
          }
          if (stash(*tagged)) continue;  // an earlier pipelined command finished meanwhile
          throw Error(ErrorKind::Protocol, connection_.label() + " answered out of order",
                      taggedLine(*tagged));
        }
        const auto& untagged = std::get<codec::ImapUntagged>(response);
        if (untagged.status == codec::ImapStatus::Bye) throw byeError(untagged);
      }
    }
    if (piece.source) {
      piece.source->forEachChunk([&](std::string_view chunk) { connection_.queue(chunk); });
    } else {
      connection_.queue(piece.text);
    }
  }
  connection_.queue("\r\n");
  return std::nullopt;
}

codec::ImapTagged ImapClient::simpleCommand(
    const std::vector<Piece>& pieces, std::string_view what, std::string_view trace,
    const std::function<void(const codec::ImapUntagged&)>& on_untagged) {
  const std::string tag = nextTag();
  std::vector<Piece> all;
  all.reserve(pieces.size() + 1);
  all.push_back(Piece{tag + " ", nullptr, false});
  all.insert(all.end(), pieces.begin(), pieces.end());
  auto early = sendPieces(tag, all, tag + " " + std::string(trace));
  for (Piece& piece : all) wipe(piece.text);  // LOGIN and AUTHENTICATE pieces hold secrets
  if (early) return *early;
  connection_.flush();
  return readTagged(tag, what, on_untagged);
}

void ImapClient::appendAstring(std::vector<Piece>& pieces, std::string_view value) const {
  if (codec::astringForm(value) == codec::AstringForm::Literal) {
    pieces.push_back(Piece{std::string(value), nullptr, true});
  } else {
    pieces.push_back(Piece{codec::astringText(value), nullptr, false});
  }
}

void ImapClient::readCapabilities() {
  const codec::ImapTagged reply =
      simpleCommand({Piece{"CAPABILITY", nullptr, false}}, "CAPABILITY reply", "CAPABILITY",
                    [&](const codec::ImapUntagged& u) {
                      if (u.keyword == "CAPABILITY") noteCapabilities(u.text);
                    });
  if (reply.status != codec::ImapStatus::Ok) {
    throw Error(ErrorKind::Protocol, connection_.label() + " refused CAPABILITY", taggedLine(reply));
  }
}

void ImapClient::startTls() {
  if (!hasCapability("STARTTLS")) {
    throw Error(ErrorKind::Security,
                connection_.label() + " does not offer STARTTLS; with tls: starttls popgate will "
                                      "not log in without TLS (use tls: implicit if the server has "
                                      "port 993)");
  }
  const codec::ImapTagged reply =
      simpleCommand({Piece{"STARTTLS", nullptr, false}}, "STARTTLS reply", "STARTTLS");
  if (reply.status != codec::ImapStatus::Ok) {
    throw Error(ErrorKind::Security, connection_.label() + " refused STARTTLS", taggedLine(reply));
  }
  connection_.startTls();  // drops anything sent before the handshake
  caps_.clear();           // pre-TLS capabilities are forgotten
  readCapabilities();
}

void ImapClient::login(const Credentials& credentials) {
  if (preauth_) return;  // already authenticated (only accepted over TLS or with tls: none)
  if (credentials.method == AuthMethod::XOAuth2 || credentials.method == AuthMethod::OAuthBearer) {
    authenticateOAuth(credentials, credentials.method);
    confirmOAuthSession(credentials.username);
    return;
  }
  AuthMethod method = credentials.method;
  if (method == AuthMethod::Auto) {
    method = hasCapability("AUTH=PLAIN") || hasCapability("LOGINDISABLED") ? AuthMethod::Plain
                                                                           : AuthMethod::Login;
  }
  codec::ImapTagged reply;
  if (method == AuthMethod::Plain) {
    // Every buffer holding the response is a Secret or wiped: nothing of it outlives the login.
    const Secret response(codec::saslPlain(credentials.username, credentials.password.reveal()));
    if (hasCapability("SASL-IR")) {
      std::vector<Piece> pieces{Piece{"AUTHENTICATE PLAIN ", nullptr, false}, Piece{}};
      pieces.back().text.assign(response.reveal());
      reply = simpleCommand(pieces, "AUTHENTICATE reply", "AUTHENTICATE PLAIN ********");
      wipe(pieces.back().text);
      // BAD is about the command's form, not the credentials (NO is): a server that offers
      // SASL-IR and refuses an initial response still takes the two-step form.
      if (reply.status == codec::ImapStatus::Bad) reply = authenticatePlainTwoStep(response);
    } else {
      // GNU mailutils' imap4d: no SASL-IR (an initial response gets BAD); "+ " then the response.
      reply = authenticatePlainTwoStep(response);
    }
    // auth: auto and a server that offers AUTH=PLAIN but refuses both forms of it: LOGIN.
    if (reply.status == codec::ImapStatus::Bad && credentials.method == AuthMethod::Auto &&
        !hasCapability("LOGINDISABLED")) {
      reply = loginCommand(credentials);
    }
  } else {
    reply = loginCommand(credentials);
  }
  if (reply.status != codec::ImapStatus::Ok) {
    if (codec::connectionLimitReached(reply.code, reply.text)) {
      throw Error(ErrorKind::Throttled,
                  connection_.label() + " has too many connections of " + credentials.username +
                      " open (the user's phones and laptops count too)",
                  taggedLine(reply))
          .withRetryAfter(kConnectionLimitPause);
    }
    const std::string name = codec::codeName(reply.code);
    const ErrorKind kind = name == "UNAVAILABLE" ? ErrorKind::Transient : ErrorKind::Auth;
    throw Error(kind, connection_.label() + " refused the login of " + credentials.username,
                taggedLine(reply));
  }
  if (codec::codeName(reply.code) == "CAPABILITY") {
    noteCapabilities(std::string_view(reply.code).substr(10));
  } else {
    readCapabilities();  // capabilities may change after login (RFC 3501 §6.2.3)
  }
}

void ImapClient::authenticateOAuth(const Credentials& credentials, AuthMethod method) {
  const bool bearer = method == AuthMethod::OAuthBearer;
  const std::string mechanism = bearer ? "OAUTHBEARER" : "XOAUTH2";
  connection_.requireEncryption(tls_, "an OAuth access token");
  // Every buffer holding the response is a Secret: wiped when dropped, masked in texts.
  const Secret response(
      bearer ? codec::saslOauthBearer(credentials.username, credentials.access_token.reveal(), host_,
                                      port_)
             : codec::saslXoauth2(credentials.username, credentials.access_token.reveal()));

  // The whole exchange has one deadline (keepWaiting): a server that keeps sending untagged lines
  // (each one resets the read timeout) must not hold the login forever.
  const auto started = std::chrono::steady_clock::now();
  const std::string tag = nextTag();
  const std::string command = tag + " AUTHENTICATE " + mechanism;
  bool sent = hasCapability("SASL-IR");  // RFC 4959: the initial response on the command line
  if (sent) {
    connection_.send(Secret::joined({command, " ", response.reveal(), "\r\n"}).reveal(),
                     command + " ********");
  } else {
    connection_.send(command + "\r\n", command);
  }
  std::optional<codec::OAuthFailure> failure;
  bool challenged = false;
  for (;;) {
    keepWaiting(started, sent ? "the end of AUTHENTICATE " + mechanism
                              : "the go-ahead of AUTHENTICATE " + mechanism);
    codec::ImapResponse response_line =
        readResponse(sent ? "AUTHENTICATE reply" : "AUTHENTICATE go-ahead");
    if (const auto* go = std::get_if<codec::ImapContinuation>(&response_line)) {
      if (!sent) {
        connection_.send(Secret::joined({response.reveal(), "\r\n"}).reveal(), "********");
        sent = true;
      } else if (!challenged) {
        // A failure challenge (Gmail, RFC 7628 §3.2.2): answer it so that the server finishes
        // with its tagged NO, and keep the JSON status for the error.
        challenged = true;
        failure = codec::parseOAuthFailure(go->text);
        const std::string_view answer =
            bearer ? codec::kOauthBearerFailureAnswer : codec::kXoauth2FailureAnswer;
        connection_.send(std::string(answer) + "\r\n", answer.empty() ? "(empty line)" : answer);
      } else {
        connection_.send("*\r\n", "*");  // a second challenge: cancel (RFC 3501 §6.2.2)
      }
      continue;
    }
    if (auto* tagged = std::get_if<codec::ImapTagged>(&response_line)) {
      if (tagged->tag != tag) {
        throw Error(ErrorKind::Protocol, connection_.label() + " answered out of order",
                    taggedLine(*tagged));
      }
      if (tagged->status == codec::ImapStatus::Ok) return;
      if (codec::connectionLimitReached(tagged->code, tagged->text)) {
        throw Error(ErrorKind::Throttled,
                    connection_.label() + " has too many connections of " + credentials.username +
                        " open (the user's phones and laptops count too)",
                    taggedLine(*tagged))
            .withRetryAfter(kConnectionLimitPause);
      }
      const ErrorKind kind =
          codec::codeName(tagged->code) == "UNAVAILABLE" ? ErrorKind::Transient : ErrorKind::Auth;
      std::string message = connection_.label() + " refused the " + mechanism + " login of " +
                            credentials.username;
      if (failure) {
        message += "; its OAuth status: " + printable(failure->text, 200);
      } else if (challenged) {
        message += "; its challenge was not the JSON status RFC 7628 describes";
      }
      if (!hasCapability("AUTH=" + mechanism)) {
        message += " (it does not list AUTH=" + mechanism + " among its capabilities)";
      }
      throw Error(kind, message, taggedLine(*tagged));
    }
    const auto& untagged = std::get<codec::ImapUntagged>(response_line);
    if (untagged.status == codec::ImapStatus::Bye) throw byeError(untagged);
  }
}

void ImapClient::confirmOAuthSession(const std::string& username) {
  const codec::ImapTagged reply =
      simpleCommand({Piece{"CAPABILITY", nullptr, false}}, "CAPABILITY reply", "CAPABILITY",
                    [&](const codec::ImapUntagged& u) {
                      if (u.keyword == "CAPABILITY") noteCapabilities(u.text);
                    });
  if (reply.status == codec::ImapStatus::Ok) return;
  if (reply.status == codec::ImapStatus::Bad &&
      containsNoCase(reply.text, "authenticated but not connected")) {
    // Microsoft 365 accepts a valid token for any user and only then finds no mailbox for it.
    throw Error(ErrorKind::Config,
                connection_.label() + " accepted the access token but cannot open the mailbox of " +
                    username + ": the token belongs to another user than username " + username +
                    ", or IMAP is disabled for that mailbox (Microsoft 365: enable IMAP for it)",
                taggedLine(reply));
  }
  throw Error(ErrorKind::Protocol, connection_.label() + " refused CAPABILITY after the login",
              taggedLine(reply));
}

codec::ImapTagged ImapClient::authenticatePlainTwoStep(const Secret& response) {
  const std::string tag = nextTag();
  connection_.send(tag + " AUTHENTICATE PLAIN\r\n", tag + " AUTHENTICATE PLAIN");
  bool answered = false;
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    keepWaiting(started, "the end of AUTHENTICATE");
    codec::ImapResponse response_line = readResponse("AUTHENTICATE go-ahead");
    if (std::holds_alternative<codec::ImapContinuation>(response_line) && !answered) {
      connection_.send(Secret::joined({response.reveal(), "\r\n"}).reveal(), "********");
      answered = true;
      continue;
    }
    if (auto* tagged = std::get_if<codec::ImapTagged>(&response_line)) {
      if (tagged->tag != tag) {
        throw Error(ErrorKind::Protocol, connection_.label() + " answered out of order",
                    taggedLine(*tagged));
      }
      return std::move(*tagged);
    }
    if (std::holds_alternative<codec::ImapContinuation>(response_line)) {
      connection_.send("*\r\n", "*");  // a second challenge: cancel (RFC 3501 §6.2.2)
    }
  }
}

codec::ImapTagged ImapClient::loginCommand(const Credentials& credentials) {
  if (hasCapability("LOGINDISABLED")) {
    throw Error(ErrorKind::Auth, connection_.label() + " does not allow LOGIN here (LOGINDISABLED)");
  }
  std::vector<Piece> pieces{Piece{"LOGIN ", nullptr, false}};
  appendAstring(pieces, credentials.username);
  pieces.push_back(Piece{" ", nullptr, false});
  appendAstring(pieces, credentials.password.reveal());
  codec::ImapTagged reply =
      simpleCommand(pieces, "LOGIN reply", "LOGIN " + credentials.username + " ********");
  for (Piece& piece : pieces) wipe(piece.text);
  return reply;
}

const codec::PersonalNamespace& ImapClient::personalNamespace() {
  if (namespace_) return *namespace_;
  if (hasCapability("NAMESPACE")) {
    // RFC 2342: * NAMESPACE (("INBOX." ".")) NIL NIL — personal, other users', shared.
    std::optional<codec::PersonalNamespace> found;
    const codec::ImapTagged reply = simpleCommand(
        {Piece{"NAMESPACE", nullptr, false}}, "NAMESPACE reply", "NAMESPACE",
        [&](const codec::ImapUntagged& u) {
          if (u.keyword == "NAMESPACE" && !found) found = codec::parsePersonalNamespace(u.text);
        });
    if (reply.status == codec::ImapStatus::Ok && found) {
      namespace_ = std::move(found);
      return *namespace_;
    }
  }
  // RFC 3501 §6.3.8: LIST "" "" answers the hierarchy delimiter of the root: * LIST (..) "." ""
  std::optional<std::string> delimiter;
  const codec::ImapTagged reply = simpleCommand(
      {Piece{"LIST \"\" \"\"", nullptr, false}}, "LIST reply", "LIST \"\" \"\"",
      [&](const codec::ImapUntagged& u) {
        if (u.keyword == "LIST" && !delimiter) delimiter = codec::parseListDelimiter(u.text);
      });
  namespace_ = codec::PersonalNamespace{
      "", reply.status == codec::ImapStatus::Ok && delimiter ? *delimiter : std::string("/")};
  return *namespace_;
}

std::string ImapClient::encodeMailbox(std::string_view mailbox) {
  const codec::PersonalNamespace& ns = personalNamespace();
  std::string name(mailbox);
  if (ns.delimiter.size() == 1 && ns.delimiter != "/") {
    std::replace(name.begin(), name.end(), '/', ns.delimiter[0]);
  }
  const auto encoded = codec::encodeMailboxName(name);
  if (!encoded) {
    throw Error(ErrorKind::MailboxProblem,
                "folder name \"" + std::string(mailbox) + "\" is not valid UTF-8");
  }
  return std::string(codec::personalPrefixFor(name, ns)) + *encoded;
}

bool ImapClient::create(std::string_view mailbox) {
  const std::string encoded = encodeMailbox(mailbox);
  // Gmail's system folders live under "[Gmail]/" (Sent Mail, All Mail, ...): a label there cannot
  // be created, and trying would at best make a label that looks like a system folder.
  if (hasCapability("X-GM-EXT-1") &&
      (encoded == "[Gmail]" || encoded.starts_with("[Gmail]/") || encoded.starts_with("[Google Mail]"))) {
    throw Error(ErrorKind::Config,
                connection_.label() + " is Gmail, and folder \"" + std::string(mailbox) +
                    "\" is under [Gmail]/, where only Gmail's own folders live: popgate never "
                    "creates labels there; choose a folder (label) name outside [Gmail]/");
  }
  std::vector<Piece> pieces{Piece{"CREATE ", nullptr, false}};
  appendAstring(pieces, encoded);
  const codec::ImapTagged reply = simpleCommand(pieces, "CREATE reply", "CREATE " + encoded);
  // Another session (of popgate or of the server itself) may have created it meanwhile: say so
  // with [ALREADYEXISTS] (RFC 5530), or in words only LIST can check.
  const bool said_ok =
      reply.status == codec::ImapStatus::Ok || codec::codeName(reply.code) == "ALREADYEXISTS";
  const Listed found = said_ok ? Listed::Selectable : listed(encoded);
  if (found == Listed::Selectable) {
    known_.insert(encoded);
    return reply.status == codec::ImapStatus::Ok;
  }
  if (found == Listed::NoSelect) {
    // It exists, but only as a node of the hierarchy: no message can be appended to it.
    throw Error(ErrorKind::Config,
                connection_.label() + " has folder \"" + std::string(mailbox) +
                    "\", but it cannot hold messages (LIST shows it \\Noselect): choose another "
                    "folder, or a subfolder of it",
                taggedLine(reply));
  }
  throw Error(ErrorKind::MailboxProblem,
              connection_.label() + " could not create folder \"" + std::string(mailbox) + "\"",
              taggedLine(reply));
}

ImapClient::Listed ImapClient::listed(const std::string& encoded) {
  std::vector<Piece> pieces{Piece{"LIST \"\" ", nullptr, false}};
  appendAstring(pieces, encoded);
  Listed found = Listed::Missing;
  const codec::ImapTagged reply = simpleCommand(
      pieces, "LIST reply", "LIST \"\" " + encoded, [&](const codec::ImapUntagged& u) {
        if (u.keyword != "LIST") return;
        const auto entry = codec::parseListEntry(u.text);
        // INBOX is case-insensitive (RFC 3501 §5.1); every other name is compared exactly.
        if (!entry || !(entry->name == encoded ||
                        (equalsNoCase(encoded, "INBOX") && equalsNoCase(entry->name, "INBOX"))) ||
            codec::hasAttribute(*entry, "\\NonExistent")) {
          return;
        }
        found = codec::hasAttribute(*entry, "\\Noselect") ? Listed::NoSelect : Listed::Selectable;
      });
  return reply.status == codec::ImapStatus::Ok ? found : Listed::Unanswered;
}

std::string ImapClient::appendArguments(const AppendItem& item) const {
  std::string args;
  if (!item.flags.empty()) {
    const auto flags = codec::flagList(item.flags);
    if (!flags) throw Error(ErrorKind::Config, "invalid IMAP flag in flags");
    args += *flags + " ";
  }
  if (item.date) args += codec::imapDateTime(item.date->utc, item.date->offset_minutes) + " ";
  return args;
}

namespace {

// Fills an outcome from the server's tagged answer.
void settle(AppendOutcome& outcome, const codec::ImapTagged& reply) {
  outcome.reply = taggedLine(reply);
  outcome.ok = reply.status == codec::ImapStatus::Ok;
  outcome.uid.reset();
  const codec::ThrottleHint hint = codec::throttleHint(reply.code, reply.text);
  outcome.slow_down = outcome.ok && hint.throttled;
  outcome.retry_after = outcome.ok ? std::nullopt : hint.wait;
  if (outcome.ok) {
    if (codec::codeName(reply.code) == "APPENDUID") outcome.uid = codec::parseAppendUid(reply.code);
  } else {
    outcome.kind = appendFailureKind(reply);
  }
}

bool wantsCreate(const AppendOutcome& outcome) {
  return !outcome.ok && outcome.reply.find("[TRYCREATE") != std::string::npos;
}

}  // namespace

void ImapClient::sendSingles(PendingAppend& p, const std::vector<std::size_t>& which) {
  for (const std::size_t index : which) {
    const AppendItem& item = p.items[index];
    const std::string tag = nextTag();
    const std::string head = "APPEND " + codec::astringText(p.encoded) + " " + appendArguments(item);
    std::vector<Piece> pieces{Piece{tag + " " + head, nullptr, false}, literalOf(item)};
    const std::string trace =
        tag + " " + head + "{" + std::to_string(item.message->size()) + "} <message>";
    if (auto early = sendPieces(tag, pieces, trace)) {
      settle(p.outcomes[index], *early);
      p.tags[index].clear();
    } else {
      p.tags[index] = tag;
    }
  }
  connection_.flush();
}

ImapClient::Piece ImapClient::literalOf(const AppendItem& item) const {
  return Piece{{}, item.message, true, item.message->containsNul()};
}

void ImapClient::sendBatch(PendingAppend& p, const std::vector<std::size_t>& which) {
  const std::string tag = nextTag();
  std::vector<Piece> pieces{Piece{tag + " APPEND " + codec::astringText(p.encoded), nullptr, false}};
  std::uint64_t bytes = 0;
  for (const std::size_t i : which) {
    pieces.push_back(Piece{" " + appendArguments(p.items[i]), nullptr, false});
    pieces.push_back(literalOf(p.items[i]));
    bytes += p.items[i].message->size();
  }
  const std::string trace = tag + " APPEND " + codec::astringText(p.encoded) + " <" +
                            std::to_string(which.size()) + " messages, " + std::to_string(bytes) +
                            " bytes>";
  if (auto early = sendPieces(tag, pieces, trace)) {
    // Refused before the last literal: every message of the batch shares the refusal.
    answered_.emplace(tag, std::move(*early));
  } else {
    connection_.flush();
  }
  for (const std::size_t i : which) p.tags[i] = tag;
}

void ImapClient::collect(PendingAppend& p, const std::vector<std::size_t>& which) {
  if (!p.batch) {
    for (const std::size_t i : which) {
      if (p.tags[i].empty()) continue;  // answered before its literal went out
      settle(p.outcomes[i], readTagged(p.tags[i], "APPEND reply"));
      p.tags[i].clear();
    }
    return;
  }
  if (which.empty() || p.tags[which.front()].empty()) return;
  const codec::ImapTagged reply = readTagged(p.tags[which.front()], "MULTIAPPEND reply");
  const auto set = codec::codeName(reply.code) == "APPENDUID" ? codec::parseAppendUidSet(reply.code)
                                                              : std::nullopt;
  for (std::size_t k = 0; k < which.size(); ++k) {
    // RFC 4315: a MULTIAPPEND answer carries one UID per message, in order.
    AppendOutcome& outcome = p.outcomes[which[k]];
    settle(outcome, reply);
    outcome.uid.reset();
    if (outcome.ok && set && set->uids.size() == which.size()) {
      outcome.uid = codec::AppendUid{set->uidvalidity, set->uids[k]};
    }
    p.tags[which[k]].clear();
  }
}

ImapClient::PendingAppend ImapClient::appendStart(std::string_view mailbox,
                                                  std::vector<AppendItem> items) {
  PendingAppend p;
  p.mailbox = std::string(mailbox);
  p.items = std::move(items);
  p.outcomes.resize(p.items.size());
  p.tags.resize(p.items.size());
  // A NUL byte can only travel in a BINARY literal; without BINARY the target would corrupt or
  // refuse the message (Gmail drops the connection), so refuse it honestly here.
  for (std::size_t i = 0; i < p.items.size(); ++i) {
    if (p.items[i].message->containsNul() && !hasCapability("BINARY")) {
      p.outcomes[i].ok = false;
      p.outcomes[i].kind = ErrorKind::MessageRejected;
      p.outcomes[i].reply = "not sent: the message contains NUL bytes and " + connection_.label() +
                            " does not offer BINARY (RFC 3516)";
    } else {
      p.sent.push_back(i);
    }
  }
  if (p.sent.empty()) return p;
  p.encoded = encodeMailbox(mailbox);
  // Courier refuses an APPEND to the mailbox the session has EXAMINEd (a recovery lookup just
  // did): "NO Current box is selected READ-ONLY." Leave it first.
  if (selected_ == p.encoded) leaveMailbox();
  p.batch = multiappend_ && p.sent.size() > 1 && hasCapability("MULTIAPPEND");
  if (p.batch) {
    sendBatch(p, p.sent);
  } else {
    sendSingles(p, p.sent);
  }
  return p;
}

std::vector<AppendOutcome> ImapClient::appendFinish(PendingAppend& p) {
  if (p.sent.empty()) return std::move(p.outcomes);
  auto run = [&](const std::vector<std::size_t>& which) {
    if (p.batch) {
      sendBatch(p, which);
    } else {
      sendSingles(p, which);
    }
    collect(p, which);
  };
  collect(p, p.sent);
  for (int round = 1; round <= kTryCreateRounds; ++round) {
    std::vector<std::size_t> retry;
    for (const std::size_t i : p.sent) {
      if (wantsCreate(p.outcomes[i])) retry.push_back(i);
    }
    if (retry.empty()) break;
    const bool made = known_.count(p.encoded) == 0 && create(p.mailbox);
    if (!made) {
      if (notice_) {
        notice_(connection_.label() + " answered [TRYCREATE] for folder \"" + p.mailbox +
                "\", which exists (" + p.outcomes[retry.front()].reply + "); looking for " +
                std::to_string(retry.size()) + " message(s) there before appending them again");
      }
      retry = notStoredOf(p, retry);
      if (retry.empty()) break;
    }
    run(retry);
  }
  const AppendOutcome& first = p.outcomes[p.sent.front()];
  if (p.batch && !first.ok && !wantsCreate(first) && first.kind != ErrorKind::OverQuota &&
      first.kind != ErrorKind::Throttled) {
    // All or nothing: one message the server dislikes sinks the batch. Find it by going single.
    if (notice_) {
      notice_(connection_.label() + ": a MULTIAPPEND batch of " + std::to_string(p.sent.size()) +
              " messages was refused (" + first.reply + "); appending them one at a time");
    }
    p.batch = false;
    run(p.sent);
  }
  return std::move(p.outcomes);
}

std::vector<std::size_t> ImapClient::notStoredOf(PendingAppend& p,
                                                 const std::vector<std::size_t>& refused) {
  std::vector<std::size_t> absent;
  for (const std::size_t i : refused) {
    const std::optional<MessageFingerprint> fingerprint = p.items[i].message->recoveryFingerprint();
    if (!fingerprint || lookup(p.mailbox, *fingerprint).presence != Lookup::Presence::Present) {
      absent.push_back(i);  // not there, or not to be told (Unknown): appended again
      continue;
    }
    AppendOutcome& outcome = p.outcomes[i];
    outcome.ok = true;
    outcome.uid.reset();
    outcome.retry_after.reset();
    outcome.reply += " (and yet stored: found in the folder)";
  }
  // A lookup EXAMINEs the folder; Courier refuses an APPEND to a mailbox open read-only.
  if (selected_ == p.encoded) leaveMailbox();
  return absent;
}

std::vector<AppendOutcome> ImapClient::append(std::string_view mailbox,
                                              const std::vector<AppendItem>& items) {
  PendingAppend pending = appendStart(mailbox, items);
  return appendFinish(pending);
}

void ImapClient::leaveMailbox() {
  // UNSELECT (RFC 3691) where offered; else CLOSE, which expunges nothing in a mailbox opened
  // with EXAMINE (RFC 3501 §6.4.2). Whatever the answer, the session no longer counts on it.
  const char* command = hasCapability("UNSELECT") ? "UNSELECT" : "CLOSE";
  simpleCommand({Piece{command, nullptr, false}}, "UNSELECT/CLOSE reply", command);
  selected_.clear();
}

codec::ImapTagged ImapClient::examine(std::string_view encoded) {
  if (selected_ == encoded) return codec::ImapTagged{"", codec::ImapStatus::Ok, "", "already"};
  std::vector<Piece> pieces{Piece{"EXAMINE ", nullptr, false}};
  appendAstring(pieces, encoded);
  const codec::ImapTagged reply =
      simpleCommand(pieces, "EXAMINE reply", "EXAMINE " + std::string(encoded));
  selected_ = reply.status == codec::ImapStatus::Ok ? std::string(encoded) : std::string();
  return reply;
}

std::optional<std::vector<std::uint32_t>> ImapClient::search(const RecoverySearch& criteria,
                                                             std::string& refusal) {
  std::vector<Piece> pieces{Piece{"UID SEARCH", nullptr, false}};
  std::string trace = "UID SEARCH";
  for (const HeaderCriterion& c : criteria.headers) {
    pieces.push_back(Piece{" HEADER " + c.field + " ", nullptr, false});
    appendAstring(pieces, c.value);
    trace += " HEADER " + c.field + " ...";
  }
  std::string tail;
  if (criteria.size) {
    // RFC 3501 §6.4.4: LARGER/SMALLER are strict, so this pins the exact RFC822.SIZE.
    tail = " LARGER " + std::to_string(*criteria.size - 1) + " SMALLER " +
           std::to_string(*criteria.size + 1);
  } else if (criteria.headers.empty()) {
    tail = " ALL";
  }
  pieces.push_back(Piece{tail, nullptr, false});
  trace += tail;
  std::vector<std::uint32_t> uids;
  const codec::ImapTagged reply =
      simpleCommand(pieces, "SEARCH reply", trace, [&](const codec::ImapUntagged& u) {
        if (u.keyword != "SEARCH") return;
        const std::vector<std::uint32_t> found = codec::parseSearchNumbers(u.text);
        uids.insert(uids.end(), found.begin(), found.end());
      });
  if (reply.status != codec::ImapStatus::Ok) {
    refusal = taggedLine(reply);
    return std::nullopt;
  }
  return uids;
}

std::optional<std::uint32_t> ImapClient::sameContent(const std::vector<std::uint32_t>& uids,
                                                     std::uint64_t size, const std::string& sha256,
                                                     std::string& refusal) {
  // * 7 FETCH (UID 12 BODY[]<0> {2214}\r\n<the message>): each literal is hashed as it goes by and
  // nothing is stored. The partial fetch (RFC 3501 §6.4.5) bounds every candidate to size + 1
  // bytes, so a huge look-alike costs no more than the message itself and never exceeds what the
  // parser takes; a longer candidate shows as size + 1 bytes, never as a match.
  codec::Sha256 hash;
  std::uint64_t seen = 0;
  std::uint32_t match = 0;
  parser_.setLiteralSink([&](std::string_view bytes) {
    hash.update(bytes);
    seen += bytes.size();
  });
  struct StopSink {
    codec::ImapResponseParser& parser;
    ~StopSink() { parser.setLiteralSink({}); }
  } stop{parser_};
  std::string set;
  for (const std::uint32_t uid : uids) set += (set.empty() ? "" : ",") + std::to_string(uid);
  const std::string command =
      "UID FETCH " + set + " (BODY.PEEK[]<0." + std::to_string(size + 1) + ">)";
  const codec::ImapTagged reply = simpleCommand(
      {Piece{command, nullptr, false}}, "FETCH reply", command, [&](const codec::ImapUntagged& u) {
        // Only an answer that carries a message counts; any other response starts afresh
        // (hex() restarts the digest).
        const std::string digest = hash.hex();
        const auto uid = codec::fetchUid(u.text);
        if (u.keyword == "FETCH" && u.text.find("BODY[]") != std::string::npos && uid &&
            seen == size && digest == sha256 && match == 0 &&
            std::find(uids.begin(), uids.end(), *uid) != uids.end()) {
          match = *uid;
        }
        seen = 0;
      });
  if (match != 0) return match;
  if (reply.status != codec::ImapStatus::Ok) {
    refusal = taggedLine(reply);
    return std::nullopt;
  }
  return 0;
}

Lookup ImapClient::lookup(std::string_view mailbox, const MessageFingerprint& fingerprint) {
  if (fingerprint.size == 0) return Lookup::absent();  // nothing was appended: servers refuse it
  if (fingerprint.sha256.empty()) return Lookup::unknown("the message's digest is not known");
  if (fingerprint.size >= parser_.maxLiteral()) {
    return Lookup::unknown("the message is too large to read back from the target");
  }
  const std::string encoded = encodeMailbox(mailbox);
  const codec::ImapTagged opened = examine(encoded);
  if (opened.status != codec::ImapStatus::Ok) {
    const std::string code = codec::codeName(opened.code);
    if (code == "NONEXISTENT" || code == "TRYCREATE") return Lookup::absent();
    // Not every server names the reason (GNU mailutils: "NO EXAMINE Could not open Work: No such
    // file or directory"; Microsoft 365): a mailbox LIST does not show holds nothing.
    if (listed(encoded) == Listed::Missing) return Lookup::absent();
    return Lookup::unknown(connection_.label() + " could not open \"" + std::string(mailbox) +
                           "\": " + taggedLine(opened));
  }
  std::vector<std::uint32_t> checked;
  for (const RecoverySearch& criteria : recoverySearches(fingerprint)) {
    std::string refusal;
    std::optional<std::vector<std::uint32_t>> uids = search(criteria, refusal);
    if (!uids) return Lookup::unknown(connection_.label() + " refused the search: " + refusal);
    // The message popgate lost track of was appended recently: look at the newest candidates.
    std::sort(uids->begin(), uids->end(), std::greater<>());
    uids->erase(std::unique(uids->begin(), uids->end()), uids->end());
    std::erase_if(*uids, [&](std::uint32_t uid) {
      return std::find(checked.begin(), checked.end(), uid) != checked.end();
    });
    if (uids->size() > kRecoveryCandidates) uids->resize(kRecoveryCandidates);
    if (uids->empty()) continue;
    const auto same = sameContent(*uids, fingerprint.size, fingerprint.sha256, refusal);
    if (!same) return Lookup::unknown(connection_.label() + " refused to fetch: " + refusal);
    if (*same != 0) return Lookup::present(*same);
    checked.insert(checked.end(), uids->begin(), uids->end());
  }
  return Lookup::absent();
}

std::optional<std::string> ImapClient::pipeline(
    const std::vector<std::string>& commands, std::string_view what,
    const std::function<void(const codec::ImapUntagged&)>& on_untagged) {
  std::optional<std::string> refusal;
  for (std::size_t first = 0; first < commands.size() && !refusal; first += kSearchWindow) {
    const std::size_t end = std::min(commands.size(), first + kSearchWindow);
    std::vector<std::string> tags;
    for (std::size_t i = first; i < end; ++i) {
      const std::string tag = nextTag();
      outstanding_.insert(tag);
      const std::string& command = commands[i];
      const std::string trace = tag + " " +
                                (command.size() > 120 ? command.substr(0, 117) + "..." : command);
      connection_.queue(tag + " " + command + "\r\n", connection_.tracing() ? trace : std::string());
      tags.push_back(tag);
    }
    connection_.flush();
    // Every answer of the window is read, refused or not, so the session stays in step.
    for (const std::string& tag : tags) {
      const codec::ImapTagged reply = readTagged(tag, what, on_untagged);
      if (reply.status != codec::ImapStatus::Ok && !refusal) refusal = taggedLine(reply);
    }
  }
  return refusal;
}

CopySearch ImapClient::findCopies(const std::string& encoded, const std::vector<std::string>& keys) {
  CopySearch result;
  result.searched.push_back(encoded);
  if (keys.empty()) return result;
  const codec::ImapTagged opened = examine(encoded);
  if (opened.status != codec::ImapStatus::Ok) {
    const std::string code = codec::codeName(opened.code);
    if (code == "NONEXISTENT" || code == "TRYCREATE") return result;
    // Not every server names the reason (Microsoft 365): a mailbox LIST does not show is absent.
    if (listed(encoded) == Listed::Missing) return result;
    result.refused = taggedLine(opened);
    return result;
  }
  std::vector<std::uint32_t> uids;
  result.refused = pipeline(searchCommands(keys), "SEARCH reply", [&](const codec::ImapUntagged& u) {
    if (u.keyword != "SEARCH") return;
    const std::vector<std::uint32_t> found = codec::parseSearchNumbers(u.text);
    uids.insert(uids.end(), found.begin(), found.end());
  });
  if (result.refused || uids.empty()) return result;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());

  // * 7 FETCH (UID 12 BODY[HEADER.FIELDS (MESSAGE-ID DATE FROM)] {98}\r\n<fields>): the literal's
  // bytes are kept (bounded) until the response they belong to is complete.
  std::string fields;
  parser_.setLiteralSink([&](std::string_view bytes) {
    if (fields.size() < kMaxHeaderFields) {
      fields.append(bytes.substr(0, kMaxHeaderFields - fields.size()));
    }
  });
  struct StopSink {
    codec::ImapResponseParser& parser;
    ~StopSink() { parser.setLiteralSink({}); }
  } stop{parser_};
  std::set<std::uint32_t> seen;
  result.refused = pipeline(headerFetchCommands(uids), "FETCH reply", [&](const codec::ImapUntagged& u) {
    const auto uid = codec::fetchUid(u.text);
    if (u.keyword == "FETCH" && uid && containsNoCase(u.text, "BODY[HEADER.FIELDS") &&
        std::binary_search(uids.begin(), uids.end(), *uid) && seen.insert(*uid).second) {
      HeaderCopy copy;
      copy.uid = *uid;
      copy.mailbox = encoded;
      copy.message_id = codec::headerValue(fields, "Message-ID");
      copy.date = codec::headerValue(fields, "Date");
      copy.from = codec::headerValue(fields, "From");
      result.found.push_back(std::move(copy));
    }
    fields.clear();
  });
  return result;
}

CopySearch ImapClient::findByMessageId(std::string_view mailbox, const std::vector<std::string>& ids) {
  std::vector<std::string> keys;
  for (const std::string& id : ids) {
    if (!searchable(id) || codec::astringForm(id) == codec::AstringForm::Literal) continue;
    keys.push_back("HEADER Message-ID " + codec::astringText(id));
  }
  return findCopies(encodeMailbox(mailbox), keys);
}

std::optional<CopySearch> ImapClient::findByMessageIdAnywhere(const std::vector<std::string>& ids) {
  if (!hasCapability("X-GM-EXT-1")) return std::nullopt;
  const std::optional<std::string> all = specialUseMailbox("\\All");
  if (!all) return std::nullopt;
  std::vector<std::string> keys;
  for (const std::string& id : ids) {
    // Gmail's search language: rfc822msgid:ID, without the angle brackets; an ID with a space
    // or a quote would change the query, so it is not searched this way.
    std::string_view bare = id;
    if (bare.size() >= 2 && bare.front() == '<' && bare.back() == '>') {
      bare = bare.substr(1, bare.size() - 2);
    }
    if (!searchable(bare) || bare.find_first_of(" \"\\(){}") != std::string_view::npos) continue;
    keys.push_back("X-GM-RAW " + codec::astringText("rfc822msgid:" + std::string(bare)));
  }
  return findCopies(*all, keys);
}

std::optional<std::string> ImapClient::specialUseMailbox(std::string_view attribute) {
  const bool selection = hasCapability("SPECIAL-USE") && hasCapability("LIST-EXTENDED");
  const std::string command = selection ? "LIST (SPECIAL-USE) \"\" \"*\"" : "LIST \"\" \"*\"";
  std::optional<std::string> found;
  const codec::ImapTagged reply = simpleCommand(
      {Piece{command, nullptr, false}}, "LIST reply", command, [&](const codec::ImapUntagged& u) {
        if (u.keyword != "LIST" || found) return;
        const auto entry = codec::parseListEntry(u.text);
        if (entry && codec::hasAttribute(*entry, attribute)) found = entry->name;
      });
  if (reply.status != codec::ImapStatus::Ok) return std::nullopt;
  return found;
}

void ImapClient::logout() noexcept {
  startLogout();
  finishLogout();
}

void ImapClient::startLogout() noexcept {
  try {
    logout_tag_ = nextTag();
    connection_.send(logout_tag_ + " LOGOUT\r\n", logout_tag_ + " LOGOUT");
  } catch (...) {
    logout_tag_.clear();
  }
}

void ImapClient::finishLogout() noexcept {
  try {
    // "* BYE" then the tagged OK; whatever else comes is not our business any more.
    for (int i = 0; !logout_tag_.empty() && i < 8; ++i) {
      codec::ImapResponse response = readResponse("LOGOUT reply");
      const auto* tagged = std::get_if<codec::ImapTagged>(&response);
      if (tagged != nullptr && tagged->tag == logout_tag_) break;
    }
  } catch (...) {
  }
  connection_.close();
}

}  // namespace popgate::imap
