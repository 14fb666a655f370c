#pragma once
// A POP3 client (RFC 1939, 2449 CAPA and PIPELINING, 2595 STLS, 5034 SASL) on a net::Connection.
// Written on our own parsers: a RETR only counts when its CRLF "." CRLF arrived; EOF, a timeout
// or an over-long line mid-message is an error, never a short message (docs/protocol-notes.md: do not use
// Poco's POP3ClientSession).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/codec/LineSplitter.h"
#include "connectors/codec/Pop3Listing.h"
#include "connectors/codec/Pop3ReplyParser.h"
#include "connectors/common/Problems.h"
#include "connectors/common/Secret.h"
#include "connectors/net/Connection.h"

namespace popgate::pop3 {

// XOAuth2 and OAuthBearer carry an OAuth 2.0 access token instead of a password (docs/oauth.md).
enum class AuthMethod { Auto, User, Apop, Plain, XOAuth2, OAuthBearer };

struct Credentials {
  std::string username;
  Secret password;  // sent on the wire only, never traced or put in an error; wiped when dropped
  AuthMethod method = AuthMethod::Auto;
  Secret access_token{};  // for XOAuth2/OAuthBearer: the same rules as the password
};

// One message of the maildrop as listed in this session.
struct MessageInfo {
  std::uint32_t number = 0;  // valid for this session only
  std::string uidl;          // stable across sessions; may repeat on hash-based servers
  std::uint64_t size = 0;    // as LIST reported it (servers can lie; the RETR is what counts)
};

struct Listing {
  std::vector<MessageInfo> messages;  // in server order
  Problems problems;                  // lines we could not use (bad UIDL...), for the log
};

// Where a RETR's unstuffed bytes go.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Receives the next piece of the message, in order. May throw to abandon the pass.
  virtual void write(std::string_view bytes) = 0;
};

// What happened to one RETR of a window.
enum class RetrieveOutcome {
  Complete,  // every byte up to the terminator went to the sink
  TooLarge,  // more than the limit arrived; the sink holds a prefix only and must be discarded
  Refused,   // the server answered -ERR (text in `reply`); nothing went to the sink
};

// Callbacks for retrieveMany(), called in message order from the calling thread.
class RetrieveHandler {
 public:
  virtual ~RetrieveHandler() = default;
  // The sink for the next message, just before its bytes arrive.
  virtual ByteSink& begin(const MessageInfo& message) = 0;
  // The message is over: `reply` is the server's status line (useful when Refused).
  virtual void end(const MessageInfo& message, RetrieveOutcome outcome, std::string_view reply) = 0;
};

// A command the server refused for one message.
struct Refusal {
  std::uint32_t number = 0;
  std::string reply;  // the server's status line
};

struct Pop3Options {
  std::size_t pipeline_window = 100;      // RETR/DELE commands in flight with PIPELINING
  std::uint64_t pipeline_window_bytes = 16ull * 1024 * 1024;  // and at most this many listed bytes
  bool allow_pipelining = true;
  // The most lines a UIDL or LIST listing may have: a longer listing fails list() before it
  // costs more memory or time (kept compact, ~100 bytes a message).
  std::size_t max_listed = 200000;
};

class Pop3Client {
 public:
  // Reads the greeting and capabilities and, for TlsMode::StartTls, upgrades with STLS (failing when
  // it is not offered or refused). Throws Error(Transient/Protocol/Security).
  Pop3Client(std::unique_ptr<net::Transport> transport, const net::Endpoint& endpoint,
             net::TraceSink trace = {}, Pop3Options options = {});
  ~Pop3Client();

  // Authenticates. Auto: AUTH PLAIN when SASL PLAIN is offered, else USER/PASS. APOP only over TLS.
  // XOAuth2/OAuthBearer: always the two-step AUTH (the token on a line of its own after the "+",
  // whatever its length); only over TLS or with tls: none (Error(Security) otherwise); a failure
  // challenge is answered and its JSON quoted in the error.
  // A server that offers UTF8 (RFC 6856) is first told that popgate takes UTF-8 (the UTF8
  // command), so that it serves every message as it keeps it, 8-bit header fields included.
  // Throws Error(Auth) on refusal ([IN-USE], [LOGIN-DELAY], [SYS/TEMP]: Error(Transient)).
  void login(const Credentials& credentials);

  // UIDL and LIST (pipelined when offered), read line by line. Throws Error(Protocol) when the
  // server has no UIDL, or lists more than Pop3Options::max_listed lines (the session is then
  // unusable: abandon it). When the server offers no CAPA (RFC 1939 only: popa3d, solid-pop3d),
  // the listing's problems say so, with the server's answer to CAPA, so that the log shows why
  // there is no pipelining.
  Listing list();

  // RETRs each message (windows of pipelined commands when offered), streaming unstuffed bytes to
  // the handler's sinks; a message whose bytes pass `max_bytes` is drained and reported TooLarge.
  // Throws on connection trouble: messages not yet ended must be treated as not retrieved.
  void retrieveMany(const std::vector<MessageInfo>& messages, std::uint64_t max_bytes,
                    RetrieveHandler& handler);

  // "TOP n 0" for each message (RFC 1939 §7: its header block and the empty line after it), in
  // the same pipelined stream and with the same care as retrieveMany(): dot-unstuffed bytes to the
  // handler's sinks, TooLarge past `max_bytes`, Refused for -ERR (a server that lacks TOP refuses
  // each). The window counts commands only: headers are small whatever LIST says. Throws on
  // connection trouble ([SYS/TEMP]-style refusals too): messages not yet ended have no header.
  void headersMany(const std::vector<MessageInfo>& messages, std::uint64_t max_bytes,
                   RetrieveHandler& handler);
  // Whether TOP is worth trying: listed in CAPA, or the server has no CAPA (TOP is optional in
  // RFC 1939; headersMany() then learns by its answers).
  bool offersTop() const noexcept { return !caps_known_ || caps_.top; }

  // Marks messages for deletion (pipelined when offered); returns those the server refused, with
  // its words. Nothing is deleted until quit() succeeds.
  std::vector<Refusal> markDeleted(const std::vector<std::uint32_t>& numbers);

  // QUIT: the server commits deletions. Returns true on +OK. Never throws.
  bool quit() noexcept;
  // Drops the connection without QUIT: marked deletions are forgotten by the server.
  void abandon() noexcept;

  const codec::Pop3Capabilities& capabilities() const noexcept { return caps_; }
  bool pipelining() const noexcept;
  const std::string& greeting() const noexcept { return greeting_; }
  // Whether the server accepted the UTF8 command (RFC 6856) in this session.
  bool utf8() const noexcept { return utf8_; }

 private:
  codec::Pop3Reply readReply(std::string_view what);
  std::string readBody(std::string_view what, std::size_t max_bytes);
  // Reads a multi-line body and hands it over line by line (bounded memory, however long).
  void readLines(std::string_view what, const codec::LineSplitter::LineHandler& on_line);
  void readCapabilities();
  void enableUtf8();
  void startTls();
  void command(std::string_view verb, std::string_view arg, std::string_view what,
               bool flush = true);
  [[noreturn]] void refused(std::string_view what, const codec::Pop3Reply& reply, bool at_login);
  void authenticateOAuth(const Credentials& credentials, AuthMethod method);
  // retrieveMany() and headersMany(): "VERB n[ suffix]" per message, pipelined in windows of
  // Pop3Options::pipeline_window commands (and, when `sized`, about pipeline_window_bytes of
  // listed sizes), each answer's body streamed to the handler.
  void streamMany(std::string_view verb, std::string_view suffix,
                  const std::vector<MessageInfo>& messages, std::uint64_t max_bytes, bool sized,
                  RetrieveHandler& handler);

  net::Connection connection_;
  std::string host_;
  std::uint16_t port_ = 0;           // for OAUTHBEARER's host= and port=
  TlsMode tls_ = TlsMode::Implicit;  // as configured: tokens need TLS unless it is None
  Pop3Options options_;
  codec::Pop3ReplyParser reply_parser_;
  codec::Pop3Capabilities caps_;
  bool caps_known_ = false;
  std::string capa_refusal_;  // the server's answer when CAPA was refused
  bool utf8_ = false;
  std::string greeting_;
};

}  // namespace popgate::pop3
