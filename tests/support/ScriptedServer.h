#pragma once
// Scripted fake POP3/IMAP servers on 127.0.0.1 for component tests: fault injection, and a record
// of every byte the client sent. A Script is the server's half of one connection, step by step; a
// ScriptedServer plays one Script per accepted connection, in order, on one thread. The server only
// acts when its script says so, and every wait has a timeout, so a test can neither hang nor race.
//
//   ScriptedServer srv({pop3Greeting().then(pop3Capa({"USER"})).expect("USER bob")
//                           .send("-ERR [AUTH] no\r\n").expectEof()});
//   Pop3Client client(... "127.0.0.1", srv.port() ...);  // the code under test
//   BOOST_TEST(srv.wait());
//   BOOST_TEST(srv.failures().empty(), srv.report());
//   BOOST_TEST(!srv.received("PASS"));

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/TestCerts.h"

namespace popgate::test {

namespace detail {
struct ServerState;
class Session;
}  // namespace detail

// How long an expectation, a send or a TLS handshake waits unless told otherwise.
inline constexpr std::chrono::milliseconds kStepTimeout{10'000};
// How long close() waits for the client to close its side after the server's FIN.
inline constexpr std::chrono::milliseconds kCloseLinger{1'000};

// Tests one client line (its LF or CRLF removed): true when it is the expected one.
using LinePredicate = std::function<bool(std::string_view line)>;

// The server's half of one connection: steps run in order, each with a timeout.
// - An expectation not met (another line, a timeout, the client closing first) is recorded in
//   ScriptedServer::failures() and ends the connection at once (the client sees EOF).
// - If the client goes away (EOF, reset, TLS alert, or reading nothing of a send for kStepTimeout)
//   during a step that expects nothing from it (send, stall, tls), the connection ends quietly;
//   that is a failure only if a later step still expects something. So
//   `.tls(TestCerts::otherHost())` as the last step accepts a client that refuses the certificate,
//   while `.expect("USER")` after it would record a failure.
// - close(), reset() and expectEof() end a script; adding a step after one throws
//   std::logic_error. A script without one of them ends with close().
class Script {
 public:
  // Sends exactly these bytes; no line end is added.
  Script& send(std::string bytes);
  // Sends `bytes` in pieces of `chunk` (> 0) bytes with `delay` between them: a slow server, or
  // with one big delay, a stall in the middle of a line or a message.
  Script& sendSlowly(std::string bytes, std::size_t chunk, std::chrono::milliseconds delay);
  // Sends the tag of the last expectCommand() line, a space, then `rest` (e.g. "OK done\r\n").
  // Without a remembered tag this is a failure.
  Script& sendTagged(std::string rest);

  // Reads one line; met if it starts with `prefix`, ignoring ASCII case ("" accepts any line).
  Script& expect(std::string prefix, std::chrono::milliseconds timeout = kStepTimeout);
  // Reads one line; met if `matches(line)`. `what` names the expectation in failure messages.
  Script& expectLine(std::string what, LinePredicate matches,
                     std::chrono::milliseconds timeout = kStepTimeout);
  // Reads one IMAP command "<tag> <verb>[ ...]"; met if the verb is `verb`, ignoring case (a
  // two-word verb such as "UID SEARCH" is matched as a prefix). Remembers the tag for sendTagged().
  Script& expectCommand(std::string verb, std::chrono::milliseconds timeout = kStepTimeout);
  // Reads exactly n bytes (IMAP literal data); met if they all arrive within `timeout`.
  Script& readLiteral(std::size_t n, std::chrono::milliseconds timeout = kStepTimeout);
  // Like readLiteral(n), with n from the "{n}" or "{n+}" that ends the last line read; a last
  // line without one is a failure.
  Script& readAnnouncedLiteral(std::chrono::milliseconds timeout = kStepTimeout);
  // Reads until the client closes the connection (a reset counts); met if it does so within
  // `timeout`. What it sends first goes to the transcript. Ends the script.
  Script& expectEof(std::chrono::milliseconds timeout = kStepTimeout);

  // The server side of a TLS handshake on the connection as it stands, with `cert` (server
  // context, no client certificate asked). As the first step this is implicit TLS (POP3S, IMAPS);
  // after an STLS/STARTTLS answer it is the upgrade. Bytes the client sent after the last line
  // read and before the handshake (pipelined after STARTTLS) are recorded as a failure. Every
  // later step runs over TLS. A client that aborts the handshake counts as going away.
  Script& tls(CertFiles cert, std::chrono::milliseconds timeout = kStepTimeout);
  // Neither reads nor writes for `duration`.
  Script& stall(std::chrono::milliseconds duration);
  // The same as stall(), named for its use right before tls(): the TCP connection is up, the
  // client's ClientHello waits unanswered (the slow-handshake hostname-check bypass).
  Script& stallHandshake(std::chrono::milliseconds duration);
  // Graceful close: (over TLS, close_notify, then) FIN; then what the client still sends goes to
  // the transcript until it closes too, for at most `linger`. Ends the script.
  Script& close(std::chrono::milliseconds linger = kCloseLinger);
  // Abortive close: what has already arrived goes to the transcript, then RST (SO_LINGER 0;
  // over TLS without close_notify). Ends the script.
  Script& reset();

  // Appends the steps of `more` (to build on the fragments below).
  Script& then(const Script& more);

 private:
  friend class ScriptedServer;
  friend class detail::Session;

  enum class Kind {
    Send,
    SendSlowly,
    SendTagged,
    Expect,
    ExpectCommand,
    ReadLiteral,
    ReadAnnouncedLiteral,
    ExpectEof,
    Tls,
    Stall,
    Close,
    Reset,
  };
  struct Step {
    Kind kind = Kind::Send;
    std::string what{};                 // the step as written, for messages
    std::string text{};                 // bytes to send, or the IMAP verb
    LinePredicate matches{};            // Expect
    std::size_t count = 0;              // chunk size or literal size
    std::chrono::milliseconds time{0};  // timeout, delay, stall or linger
    CertFiles cert{};                   // Tls
  };
  // Close, Reset and ExpectEof end a script.
  static bool endsScript(Kind kind);
  Script& add(Step step);

  std::vector<Step> steps_;
};

// Opening fragments, to start a script or to pass to then().
// "+OK <text>\r\n".
Script pop3Greeting(std::string_view text = "popgate test POP3 server ready");
// expect("CAPA"), then "+OK" and `caps`, one per line, and ".".
Script pop3Capa(const std::vector<std::string>& caps);
// expect("STLS"), "+OK Begin TLS negotiation\r\n", then tls(cert).
Script pop3Stls(CertFiles cert);
// "* OK [CAPABILITY <caps>] ready\r\n".
Script imapGreeting(std::string_view caps = "IMAP4rev1 LITERAL+ UIDPLUS");
// The hierarchy delimiter query (LIST "" "") ImapClient makes before it first names a folder,
// answered with `delimiter`.
Script imapDelimiter(std::string_view delimiter = "/");
// imapGreeting(caps), LOGIN answered OK with a CAPABILITY code (as Dovecot does), then
// imapDelimiter(delimiter).
Script imapLoggedIn(std::string_view caps, std::string_view delimiter = "/");
// expectCommand("CAPABILITY"), "* CAPABILITY <caps>\r\n", then a tagged OK.
Script imapCapability(std::string_view caps);
// expectCommand("STARTTLS"), a tagged "OK Begin TLS negotiation now", then tls(cert).
Script imapStartTls(CertFiles cert);

// A loopback server that plays scripts[i] on the i-th connection it accepts, one at a time, on
// its own thread. Connections beyond the scripts are refused once the last script has run. All
// accessors are thread-safe and may be called while it runs.
class ScriptedServer {
 public:
  // Listens on 127.0.0.1 at an ephemeral port and starts at once. Each connection is awaited
  // for at most `accept_timeout`; a client that never comes is a failure and ends the run.
  // Throws Poco::Exception if the port cannot be bound or a tls() certificate or key cannot be
  // loaded.
  explicit ScriptedServer(std::vector<Script> scripts,
                          std::chrono::milliseconds accept_timeout = kStepTimeout);
  // Abandons any step in progress (within about half a second) and joins the thread.
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  // The port on 127.0.0.1.
  std::uint16_t port() const noexcept { return port_; }
  // Waits until every script has run, or the run ended early; true if that happened in time.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Every unmet expectation so far, e.g. `connection 0, step 3 expect("PASS"): got "QUIT"`.
  std::vector<std::string> failures() const;
  // Every byte the client has sent on connection i so far, in order (decrypted after tls()).
  // Empty if connection i was never accepted; throws std::out_of_range if there is no script i.
  std::string transcript(std::size_t i) const;
  // Whether `needle` occurs in transcript(i): exact bytes, case-sensitive, message data included
  // (so "\r\nPASS " is a sharper needle than "PASS"). Throws std::out_of_range if there is no
  // script i.
  bool received(std::size_t i, std::string_view needle) const;
  // Whether `needle` occurs in the transcript of any connection.
  bool received(std::string_view needle) const;
  // How many connections have been accepted.
  std::size_t accepted() const;
  // What happened on connection i ("accepted", "TLS handshake done", "client closed", ...).
  // Throws std::out_of_range if there is no script i.
  std::vector<std::string> events(std::size_t i) const;
  // Failures, then events and transcript (escaped, truncated) per connection: a message for a
  // failing BOOST_TEST.
  std::string report() const;

 private:
  std::shared_ptr<detail::ServerState> state_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace popgate::test
