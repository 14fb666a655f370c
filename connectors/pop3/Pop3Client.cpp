#include "Pop3Client.h"

#include <algorithm>
#include <optional>

#include "connectors/codec/DotUnstuffer.h"
#include "connectors/codec/OAuthSasl.h"
#include "connectors/codec/Pop3Command.h"
#include "connectors/codec/Sasl.h"
#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"

namespace popgate::pop3 {

namespace {

constexpr std::size_t kMaxListingLine = 512;  // "n uid" fits in 82 bytes; LIST in about 30
constexpr std::size_t kSinkChunk = 256 * 1024;

bool transientCode(std::string_view code) {
  return code == "IN-USE" || code == "LOGIN-DELAY" || code == "SYS/TEMP";
}

// Feeds a RETR body to a sink in large chunks and watches the size limit.
class BodyPump {
 public:
  BodyPump(ByteSink& sink, std::uint64_t max_bytes) : sink_(sink), max_bytes_(max_bytes) {}

  codec::Parse step(std::string_view& in) {
    const codec::Parse result = unstuffer_.feed(in, chunk_);
    if (!too_large_ && unstuffer_.produced() > max_bytes_) too_large_ = true;
    if (too_large_) {
      chunk_.clear();  // drained, never stored
    } else if (chunk_.size() >= kSinkChunk || result == codec::Parse::Done) {
      if (!chunk_.empty()) sink_.write(chunk_);
      chunk_.clear();
    }
    return result;
  }
  bool tooLarge() const noexcept { return too_large_; }
  // Bytes seen so far beyond which draining stops and the connection is given up.
  bool drainExhausted() const noexcept {
    return too_large_ && unstuffer_.produced() > 2 * max_bytes_ + 1024 * 1024;
  }
  const codec::DotUnstuffer& parser() const noexcept { return unstuffer_; }

 private:
  ByteSink& sink_;
  std::uint64_t max_bytes_;
  codec::DotUnstuffer unstuffer_;
  std::string chunk_;
  bool too_large_ = false;
};

}  // namespace

Pop3Client::Pop3Client(std::unique_ptr<net::Transport> transport, const net::Endpoint& endpoint,
                       net::TraceSink trace, Pop3Options options)
    : connection_(std::move(transport),
                  endpoint.protocol.empty() ? "POP3 " + endpoint.label() : endpoint.label(),
                  endpoint.timeout, std::move(trace)),
      host_(endpoint.host),
      port_(endpoint.port),
      tls_(endpoint.tls),
      options_(options) {
  const codec::Pop3Reply hello = readReply("greeting");
  if (!hello.ok()) {
    throw Error(ErrorKind::Transient, connection_.label() + " refused the session", hello.line);
  }
  greeting_ = hello.text;
  readCapabilities();
  if (endpoint.tls == TlsMode::StartTls) startTls();
}

Pop3Client::~Pop3Client() { connection_.close(); }

bool Pop3Client::pipelining() const noexcept { return options_.allow_pipelining && caps_.pipelining; }

codec::Pop3Reply Pop3Client::readReply(std::string_view what) {
  codec::Pop3Reply reply;
  reply_parser_.reset();
  connection_.pump(what, reply_parser_,
                   [&](std::string_view& in) { return reply_parser_.parse(in, reply); });
  connection_.traceIn(reply.line);
  return reply;
}

std::string Pop3Client::readBody(std::string_view what, std::size_t max_bytes) {
  codec::DotUnstuffer unstuffer(max_bytes);
  std::string body;
  connection_.pump(what, unstuffer,
                   [&](std::string_view& in) { return unstuffer.feed(in, body); });
  return body;
}

void Pop3Client::readLines(std::string_view what, const codec::LineSplitter::LineHandler& on_line) {
  codec::DotUnstuffer unstuffer;
  codec::LineSplitter lines(kMaxListingLine);
  std::string chunk;
  connection_.pump(what, unstuffer, [&](std::string_view& in) {
    const codec::Parse result = unstuffer.feed(in, chunk);
    lines.feed(chunk, on_line);
    chunk.clear();
    if (result == codec::Parse::Done) lines.finish(on_line);
    return result;
  });
}

void Pop3Client::command(std::string_view verb, std::string_view arg, std::string_view what,
                         bool flush) {
  auto line = codec::pop3Command(verb, arg);
  if (!line) {
    throw Error(ErrorKind::Config, connection_.label() + ": cannot send " + std::string(what) +
                                       ": the value has a line break or is too long");
  }
  connection_.queue(*line, connection_.tracing() ? codec::pop3Trace(*line) : std::string());
  wipe(*line);  // a PASS line holds the password; the queued copy is wiped once flushed
  if (flush) connection_.flush();
}

void Pop3Client::readCapabilities() {
  command("CAPA", {}, "CAPA");
  const codec::Pop3Reply reply = readReply("CAPA reply");
  caps_ = codec::Pop3Capabilities{};
  caps_known_ = reply.ok();
  if (!caps_known_) {
    // RFC 1939-only server: no pipelining, USER/PASS, try UIDL anyway.
    capa_refusal_ = reply.line;
    return;
  }
  const std::string body = readBody("CAPA list", 64 * 1024);
  caps_ = codec::parseCapabilities(codec::splitLines(body));
}

void Pop3Client::startTls() {
  // docs/protocol-notes.md, "STARTTLS rules": mandatory once configured; never fall back to plaintext.
  if (caps_known_ && !caps_.stls) {
    throw Error(ErrorKind::Security, connection_.label() +
                                         " does not offer STLS; with tls: starttls popgate will "
                                         "not log in without TLS (use tls: implicit if the server "
                                         "has port 995)");
  }
  command("STLS", {}, "STLS");
  const codec::Pop3Reply reply = readReply("STLS reply");
  if (!reply.ok()) {
    throw Error(ErrorKind::Security, connection_.label() + " refused STLS", reply.line);
  }
  connection_.startTls();  // drops anything sent before the handshake
  readCapabilities();       // pre-TLS capabilities are forgotten
}

void Pop3Client::refused(std::string_view what, const codec::Pop3Reply& reply, bool at_login) {
  ErrorKind kind = at_login ? ErrorKind::Auth : ErrorKind::Protocol;
  if (transientCode(reply.code)) kind = ErrorKind::Transient;
  throw Error(kind, connection_.label() + " refused " + std::string(what), reply.line);
}

void Pop3Client::authenticateOAuth(const Credentials& credentials, AuthMethod method) {
  const bool bearer = method == AuthMethod::OAuthBearer;
  const std::string mechanism = bearer ? "OAUTHBEARER" : "XOAUTH2";
  connection_.requireEncryption(tls_, "an OAuth access token");
  const std::string who = "the " + mechanism + " login of " + credentials.username;
  // Two steps, always (RFC 5034 §4; Microsoft closes the connection when the token rides on the
  // AUTH line, and RFC 2449's 255 octets would not hold a token anyway).
  command("AUTH", mechanism, "AUTH " + mechanism);
  const codec::Pop3Reply prompt = readReply("AUTH prompt");
  if (prompt.status != codec::Pop3Reply::Status::Continue) refused(who, prompt, true);
  // Every buffer holding the response is a Secret: wiped when dropped, masked in texts.
  const Secret response(
      bearer ? codec::saslOauthBearer(credentials.username, credentials.access_token.reveal(), host_,
                                      port_)
             : codec::saslXoauth2(credentials.username, credentials.access_token.reveal()));
  connection_.send(Secret::joined({response.reveal(), "\r\n"}).reveal(), "********");
  codec::Pop3Reply reply = readReply("AUTH reply");
  std::optional<codec::OAuthFailure> failure;
  if (reply.status == codec::Pop3Reply::Status::Continue) {
    // A failure challenge (RFC 7628 §3.2.2): answer it; the server then sends its -ERR.
    failure = codec::parseOAuthFailure(reply.text);
    const std::string_view answer =
        bearer ? codec::kOauthBearerFailureAnswer : codec::kXoauth2FailureAnswer;
    connection_.send(std::string(answer) + "\r\n", answer.empty() ? "(empty line)" : answer);
    reply = readReply("AUTH reply");
    if (reply.status == codec::Pop3Reply::Status::Continue) {
      connection_.send("*\r\n", "*");  // another challenge: cancel (RFC 5034 §4)
      reply = readReply("AUTH reply");
    }
  }
  if (reply.ok()) return;
  if (failure) {
    ErrorKind kind = ErrorKind::Auth;
    if (transientCode(reply.code)) kind = ErrorKind::Transient;
    throw Error(kind,
                connection_.label() + " refused " + who + "; its OAuth status: " +
                    printable(failure->text, 200),
                reply.line);
  }
  refused(who, reply, true);
}

void Pop3Client::enableUtf8() {
  // RFC 6856 §2: valid in the AUTHORIZATION state only. A server that keeps messages with raw
  // UTF-8 in their header fields serves them as they are only to a client that said UTF8;
  // Courier wraps each one, for anybody else, in a new message ("Cannot display Unicode content").
  command("UTF8", {}, "UTF8");
  utf8_ = readReply("UTF8 reply").ok();
}

void Pop3Client::login(const Credentials& credentials) {
  if (caps_known_ && caps_.utf8) enableUtf8();
  if (credentials.method == AuthMethod::XOAuth2 || credentials.method == AuthMethod::OAuthBearer) {
    authenticateOAuth(credentials, credentials.method);
    return;
  }
  AuthMethod method = credentials.method;
  if (method == AuthMethod::Auto) {
    method = caps_known_ && caps_.sasl_plain ? AuthMethod::Plain : AuthMethod::User;
  }
  const std::string who = "the login of " + credentials.username;
  switch (method) {
    case AuthMethod::Plain: {
      // Every buffer holding the response is a Secret: wiped when dropped, masked in texts.
      const Secret response(codec::saslPlain(credentials.username, credentials.password.reveal()));
      // RFC 5034 §4: an initial response must keep the command within 255 octets.
      const Secret argument = Secret::joined({"PLAIN ", response.reveal()});
      if (auto line = codec::pop3Command("AUTH", argument.reveal())) {
        const Secret wire(std::move(*line));
        connection_.send(wire.reveal(),
                         connection_.tracing() ? codec::pop3Trace(wire.reveal()) : std::string());
      } else {
        command("AUTH", "PLAIN", "AUTH PLAIN");
        const codec::Pop3Reply prompt = readReply("AUTH prompt");
        if (prompt.status != codec::Pop3Reply::Status::Continue) refused(who, prompt, true);
        connection_.send(Secret::joined({response.reveal(), "\r\n"}).reveal(), "********");
      }
      const codec::Pop3Reply reply = readReply("AUTH reply");
      if (!reply.ok()) refused(who, reply, true);
      return;
    }
    case AuthMethod::Apop: {
      // CVE-2007-1558: APOP's MD5 challenge leaks password characters to a man in the middle.
      if (!connection_.isSecure()) {
        throw Error(ErrorKind::Security,
                    connection_.label() + ": auth: apop is only used over TLS (set tls: implicit "
                                          "or starttls, or auth: user)");
      }
      const auto stamp = codec::apopTimestamp(greeting_);
      if (!stamp) {
        throw Error(ErrorKind::Auth,
                    connection_.label() + " does not offer APOP (no timestamp in its greeting)");
      }
      const std::string digest = codec::apopDigest(*stamp, credentials.password.reveal());
      if (digest.empty()) {
        throw Error(ErrorKind::Auth, connection_.label() +
                                         ": APOP needs MD5, which this system's OpenSSL refuses");
      }
      command("APOP", credentials.username + " " + digest, "APOP");
      const codec::Pop3Reply reply = readReply("APOP reply");
      if (!reply.ok()) refused(who, reply, true);
      return;
    }
    case AuthMethod::XOAuth2:
    case AuthMethod::OAuthBearer:
      return;  // handled above
    case AuthMethod::User:
    case AuthMethod::Auto: {
      command("USER", credentials.username, "USER");
      const codec::Pop3Reply user = readReply("USER reply");
      if (!user.ok()) refused(who, user, true);
      command("PASS", credentials.password.reveal(), "PASS");
      const codec::Pop3Reply pass = readReply("PASS reply");
      if (!pass.ok()) refused(who, pass, true);
      return;
    }
  }
}

Listing Pop3Client::list() {
  const bool pipelined = pipelining();
  const std::size_t cap = std::max<std::size_t>(options_.max_listed, 1);
  auto tooMany = [&](std::string_view listing) {
    return Error(ErrorKind::Protocol,
                 connection_.label() + " lists more than " + std::to_string(cap) +
                     " messages in its " + std::string(listing) +
                     "; popgate stops there to keep memory bounded (raise listing_limit for this "
                     "account, or remove old mail from the server)");
  };
  command("UIDL", {}, "UIDL", !pipelined);
  if (pipelined) command("LIST", {}, "LIST");
  const codec::Pop3Reply uidl = readReply("UIDL reply");
  Listing out;
  if (!caps_known_) {
    out.problems.add("the server offers no CAPA (it answered \"" + printable(capa_refusal_) +
                     "\"): USER/PASS, UIDL and LIST, one command at a time");
  }
  std::size_t lines = 0;
  if (uidl.ok()) {
    readLines("UIDL list", [&](std::string_view line, bool cut) {
      if (++lines > cap) throw tooMany("UIDL listing");
      auto entry = cut ? std::nullopt : codec::parseUidlLine(line);
      if (!entry) {
        out.problems.add("unusable UIDL line \"" + std::string(line.substr(0, 100)) +
                         "\": that message is left alone");
        return;
      }
      out.messages.push_back(MessageInfo{entry->number, std::move(entry->uidl), 0});
    });
  }
  if (!pipelined) command("LIST", {}, "LIST");
  const codec::Pop3Reply list = readReply("LIST reply");
  if (!uidl.ok()) {
    throw Error(ErrorKind::Protocol,
                connection_.label() + " does not support UIDL, which popgate needs to remember "
                                      "which messages it has already delivered",
                uidl.line);
  }
  if (!list.ok()) refused("LIST", list, false);
  // Sizes by message number; servers list in number order, so this is sorted as it comes.
  std::vector<codec::ListEntry> sizes;
  lines = 0;
  readLines("LIST list", [&](std::string_view line, bool cut) {
    if (++lines > cap) throw tooMany("LIST listing");
    if (auto entry = cut ? std::nullopt : codec::parseListLine(line)) sizes.push_back(*entry);
  });
  auto byNumber = [](const codec::ListEntry& a, const codec::ListEntry& b) {
    return a.number < b.number;
  };
  if (!std::is_sorted(sizes.begin(), sizes.end(), byNumber)) {
    std::stable_sort(sizes.begin(), sizes.end(), byNumber);
  }
  for (MessageInfo& info : out.messages) {
    const auto it = std::lower_bound(sizes.begin(), sizes.end(), codec::ListEntry{info.number, 0},
                                     byNumber);
    if (it != sizes.end() && it->number == info.number) info.size = it->size;
  }
  out.messages.shrink_to_fit();
  return out;
}

void Pop3Client::retrieveMany(const std::vector<MessageInfo>& messages, std::uint64_t max_bytes,
                              RetrieveHandler& handler) {
  streamMany("RETR", {}, messages, max_bytes, true, handler);
}

void Pop3Client::headersMany(const std::vector<MessageInfo>& messages, std::uint64_t max_bytes,
                             RetrieveHandler& handler) {
  streamMany("TOP", " 0", messages, max_bytes, false, handler);
}

void Pop3Client::streamMany(std::string_view verb, std::string_view suffix,
                            const std::vector<MessageInfo>& messages, std::uint64_t max_bytes,
                            bool sized, RetrieveHandler& handler) {
  const std::string name(verb);
  const std::size_t window = pipelining() ? std::max<std::size_t>(options_.pipeline_window, 1) : 1;
  auto cost = [&](const MessageInfo& m) { return sized ? m.size : 0; };
  std::size_t sent = 0;
  std::uint64_t bytes_in_flight = 0;
  for (std::size_t next = 0; next < messages.size(); ++next) {
    // Keep up to `window` commands (and about pipeline_window_bytes) ahead of the one being read.
    while (sent < messages.size() &&
           (sent == next ||
            (sent - next < window &&
             bytes_in_flight + cost(messages[sent]) <= options_.pipeline_window_bytes))) {
      command(verb, std::to_string(messages[sent].number) + std::string(suffix), name, false);
      bytes_in_flight += cost(messages[sent]);
      ++sent;
    }
    connection_.flush();

    const MessageInfo& message = messages[next];
    const codec::Pop3Reply reply = readReply(name + " reply");
    bytes_in_flight -= std::min(bytes_in_flight, cost(message));
    if (!reply.ok()) {
      if (transientCode(reply.code)) refused(name + " " + std::to_string(message.number), reply, false);
      handler.end(message, RetrieveOutcome::Refused, reply.line);
      continue;
    }
    BodyPump body(handler.begin(message), max_bytes);
    bool reported = false;
    connection_.pump("message " + std::to_string(message.number), body.parser(),
                     [&](std::string_view& in) {
                       const codec::Parse result = body.step(in);
                       if (body.tooLarge() && !reported) {
                         reported = true;
                         handler.end(message, RetrieveOutcome::TooLarge, reply.line);
                       }
                       if (body.drainExhausted()) {
                         throw Error(ErrorKind::Transient,
                                     connection_.label() + ": message " +
                                         std::to_string(message.number) +
                                         (sized ? " is far larger than its LIST size"
                                                : " has a header far larger than " +
                                                      std::to_string(max_bytes) + " bytes") +
                                         "; connection dropped");
                       }
                       return result;
                     });
    if (!reported) handler.end(message, RetrieveOutcome::Complete, reply.line);
  }
}

std::vector<Refusal> Pop3Client::markDeleted(const std::vector<std::uint32_t>& numbers) {
  const std::size_t window = pipelining() ? std::max<std::size_t>(options_.pipeline_window, 1) : 1;
  std::vector<Refusal> refused_numbers;
  std::size_t sent = 0;
  for (std::size_t next = 0; next < numbers.size(); ++next) {
    while (sent < numbers.size() && sent - next < window) {
      command("DELE", std::to_string(numbers[sent]), "DELE", false);
      ++sent;
    }
    connection_.flush();
    const codec::Pop3Reply reply = readReply("DELE reply");
    if (!reply.ok()) refused_numbers.push_back(Refusal{numbers[next], reply.line});
  }
  return refused_numbers;
}

bool Pop3Client::quit() noexcept {
  try {
    command("QUIT", {}, "QUIT");
    const bool ok = readReply("QUIT reply").ok();
    connection_.close();
    return ok;
  } catch (...) {
    connection_.close();
    return false;
  }
}

void Pop3Client::abandon() noexcept { connection_.close(); }

}  // namespace popgate::pop3
