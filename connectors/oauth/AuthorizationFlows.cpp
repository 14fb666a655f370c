// Authorization flows:
//   device authorization request  POST device: client_id, scope                  (RFC 8628 §3.1)
//   device authorization response device_code, user_code, verification_uri
//                                 [, verification_uri_complete], expires_in [, interval]  (§3.2)
//   device access token request   POST token: grant_type=urn:ietf:params:oauth:grant-type:device_code,
//                                 device_code, client_id                          (§3.4)
//   its errors                    authorization_pending, slow_down (+5 s), access_denied,
//                                 expired_token (§3.5); Microsoft: authorization_declined
//   authorization request         GET auth?response_type=code&client_id&redirect_uri&scope&state
//                                 &code_challenge&code_challenge_method=S256     (RFC 6749 §4.1.1,
//                                 RFC 7636 §4.3); Google: access_type=offline&prompt=consent
//   redirect                      redirect_uri?code=..&state=.. or ?error=..&state=..  (§4.1.2)
//   token request                 grant_type=authorization_code, code, redirect_uri, client_id,
//                                 code_verifier                                   (§4.1.3, 7636 §4.5)

#include "AuthorizationFlows.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <openssl/rand.h>

#include <ostream>
#include <thread>

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "ProviderHints.h"
#include "connectors/codec/Pkce.h"
#include "connectors/codec/UrlForm.h"
#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"

namespace popgate::oauth {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kDefaultInterval{5};
constexpr std::chrono::seconds kSlowDownStep{5};
constexpr std::size_t kMaxRequestHead = 16 * 1024;

std::int64_t number(const std::string& text, std::int64_t fallback) {
  if (text.empty()) return fallback;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c == '.') break;
    if (c < '0' || c > '9' || value > 1'000'000) return fallback;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string randomUrlSafe(std::size_t octets) {
  std::string bytes(octets, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(octets)) != 1) {
    throw Error(ErrorKind::Internal, "OpenSSL cannot provide random bytes for PKCE");
  }
  return codec::pkceVerifier(bytes);
}

// The query of a redirect target ("/?code=..&state=.." or a whole pasted URL); nullopt when it
// carries neither a code nor an error.
std::optional<codec::FormFields> redirectFields(std::string_view target) {
  while (!target.empty() && (target.back() == '\r' || target.back() == '\n' ||
                             target.back() == ' ' || target.back() == '\t')) {
    target.remove_suffix(1);
  }
  while (!target.empty() && (target.front() == ' ' || target.front() == '\t')) target.remove_prefix(1);
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  auto fields = codec::parseQuery(query);
  if (!fields) return std::nullopt;
  if (!codec::fieldValue(*fields, "code") && !codec::fieldValue(*fields, "error")) return std::nullopt;
  return fields;
}

void answerBrowser(Poco::Net::StreamSocket& socket, int status, const std::string& text) {
  const std::string body = "<!doctype html><meta charset=utf-8><title>popgate</title><p>" + text + "</p>\n";
  const std::string head = "HTTP/1.1 " + std::to_string(status) +
                           (status == 200 ? " OK" : " Not Found") +
                           "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  try {
    socket.sendBytes(head.data(), static_cast<int>(head.size()));
    socket.sendBytes(body.data(), static_cast<int>(body.size()));
  } catch (const Poco::Exception&) {
    // the browser went away: its redirect still counts
  }
}

// Reads one HTTP request head from `socket` and returns its target ("/?code=..."), or "".
std::string requestTarget(Poco::Net::StreamSocket& socket) {
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  std::string head;
  char buffer[2048];
  try {
    while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos &&
           head.size() < kMaxRequestHead) {
      const int n = socket.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) break;
      head.append(buffer, static_cast<std::size_t>(n));
    }
  } catch (const Poco::Exception&) {
    return {};
  }
  const std::size_t line_end = head.find_first_of("\r\n");
  const std::string line = head.substr(0, line_end);
  if (!line.starts_with("GET ")) return {};
  const std::size_t target_end = line.find(' ', 4);
  return line.substr(4, target_end == std::string::npos ? std::string::npos : target_end - 4);
}

}  // namespace

TokenGrant runDeviceGrant(const TokenEndpoint& device, const TokenEndpoint& token,
                          const ClientSettings& client, std::ostream& out, const Sleeper& sleep) {
  codec::FormFields request{{"client_id", client.client_id}};
  if (!client.scope.empty()) request.emplace_back("scope", client.scope);
  if (!client.client_secret.empty()) {
    request.emplace_back("client_secret", std::string(client.client_secret.reveal()));
  }
  const FormWipe wipe_request(request);
  const EndpointAnswer answer = device.post(request, "the device authorization request");
  if (answer.status < 200 || answer.status >= 300 || !answer.json) {
    device.fail(answer, "the device authorization request");
  }
  const std::string device_code = answer.field("device_code");
  const std::string user_code = answer.field("user_code");
  // Google spells it verification_url.
  std::string uri = answer.field("verification_uri");
  if (uri.empty()) uri = answer.field("verification_url");
  if (device_code.empty() || user_code.empty() || uri.empty()) {
    throw Error(ErrorKind::Protocol, "device authorization endpoint " + printable(device.url(), 200) +
                                         " answered without device_code, user_code or "
                                         "verification_uri (" + quoteRefusal(answer) + ")");
  }
  const std::chrono::seconds lifetime(number(answer.field("expires_in"), 900));
  std::chrono::seconds interval(number(answer.field("interval"), kDefaultInterval.count()));
  out << "To sign in, open " << printable(uri, 300) << " in a browser and enter the code "
      << printable(user_code, 40) << "\n";
  const std::string complete = answer.field("verification_uri_complete");
  if (!complete.empty()) out << "(or open " << printable(complete, 400) << ")\n";
  out << "Waiting for the sign-in (the code expires in " << (lifetime.count() + 59) / 60
      << " minutes)...\n"
      << std::flush;

  const auto deadline = Clock::now() + lifetime;
  codec::FormFields poll{{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                         {"device_code", device_code},
                         {"client_id", client.client_id}};
  if (!client.client_secret.empty()) {
    poll.emplace_back("client_secret", std::string(client.client_secret.reveal()));
  }
  const FormWipe wipe_poll(poll);
  for (;;) {
    if (sleep) {
      sleep(interval);
    } else {
      std::this_thread::sleep_for(interval);
    }
    if (Clock::now() > deadline) {
      throw Error(ErrorKind::Auth, "the code " + printable(user_code, 40) +
                                       " expired before the sign-in was finished; run popgate "
                                       "authorize again");
    }
    const EndpointAnswer reply = token.post(poll, "the device token request");
    if (reply.status >= 200 && reply.status < 300) return token.grantFrom(reply, "the device grant");
    const std::string error = reply.field("error");
    if (error == "authorization_pending") continue;
    if (error == "slow_down") {
      interval += kSlowDownStep;  // RFC 8628 §3.5: for this and every later request
      out << "The provider asked to poll more slowly: every " << interval.count() << " s now\n"
          << std::flush;
      continue;
    }
    if (error == "authorization_declined" || error == "access_denied") {
      throw Error(ErrorKind::Auth, "the sign-in was declined (" + quoteRefusal(reply) + ")");
    }
    if (error == "expired_token") {
      throw Error(ErrorKind::Auth, "the code " + printable(user_code, 40) +
                                       " expired before the sign-in was finished (" +
                                       quoteRefusal(reply) + "); run popgate authorize again");
    }
    token.fail(reply, "the device token request");
  }
}

TokenGrant runLoopbackGrant(const TokenEndpoint& token, const ClientSettings& client,
                            const LoopbackSettings& settings, std::ostream& out) {
  Poco::Net::ServerSocket listener;
  try {
    listener.bind(Poco::Net::SocketAddress("127.0.0.1", settings.port), true);
    listener.listen(8);
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Config, "cannot listen on 127.0.0.1:" + std::to_string(settings.port) +
                                       " for the browser's redirect: " + e.displayText() +
                                       " (choose another --port)");
  }
  const std::string redirect_uri =
      "http://127.0.0.1:" + std::to_string(listener.address().port());
  const std::string verifier = randomUrlSafe(32);
  const std::string state = randomUrlSafe(16);
  codec::FormFields query{{"response_type", "code"},
                          {"client_id", client.client_id},
                          {"redirect_uri", redirect_uri},
                          {"scope", client.scope},
                          {"code_challenge", codec::pkceChallengeS256(verifier)},
                          {"code_challenge_method", "S256"},
                          {"state", state},
                          {"access_type", "offline"},
                          {"prompt", "consent"}};
  if (!settings.login_hint.empty()) query.emplace_back("login_hint", settings.login_hint);
  std::string url = settings.authorization_url;
  url += (url.find('?') == std::string::npos ? "?" : "&");
  for (std::size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "" : "&") + codec::percentEncode(query[i].first) + "=" +
           codec::percentEncode(query[i].second);
  }
  out << "Open this address in a browser and sign in:\n\n  " << url << "\n\n"
      << "popgate waits for the browser on " << redirect_uri << ". On a machine without a "
      << "browser, sign in elsewhere and paste here the address the browser was sent to\n"
      << "(it starts with " << redirect_uri << "/?, and the page may say it cannot be reached):\n"
      << std::flush;

  const auto deadline = Clock::now() + settings.timeout;
  int input = settings.input_fd;
  std::string pasted;
  std::optional<codec::FormFields> fields;
  while (!fields) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      throw Error(ErrorKind::Transient, "no sign-in arrived within " +
                                            std::to_string(settings.timeout.count()) +
                                            " s; run popgate authorize again");
    }
    pollfd fds[2] = {{listener.impl()->sockfd(), POLLIN, 0}, {input, POLLIN, 0}};
    const int ready = ::poll(fds, input >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) {
      throw Error(ErrorKind::Internal, "waiting for the redirect failed");
    }
    if (ready <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      Poco::Net::StreamSocket browser = listener.acceptConnection();
      const std::string target = requestTarget(browser);
      fields = redirectFields(target);
      if (fields) {
        const bool refused = codec::fieldValue(*fields, "error").has_value();
        answerBrowser(browser, 200, refused ? "The sign-in was refused; popgate says why in the terminal."
                                            : "popgate received the sign-in. You can close this window.");
      } else {
        answerBrowser(browser, 404, "Not the sign-in redirect.");
      }
      continue;
    }
    if (input >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      char buffer[4096];
      const ssize_t n = ::read(input, buffer, sizeof buffer);
      if (n <= 0) {
        input = -1;  // no more input: wait for the browser alone
        continue;
      }
      pasted.append(buffer, static_cast<std::size_t>(n));
      std::size_t newline;
      while (!fields && (newline = pasted.find('\n')) != std::string::npos) {
        const std::string line = pasted.substr(0, newline);
        pasted.erase(0, newline + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        fields = redirectFields(line);
        if (!fields) {
          out << "That is not the redirected address (it has no code=): paste the whole address "
                 "from the browser's address bar\n"
              << std::flush;
        }
      }
    }
  }

  if (codec::fieldValue(*fields, "state").value_or("") != state) {
    throw Error(ErrorKind::Security, "the redirect does not answer this sign-in (its state differs); "
                                     "run popgate authorize again and use the address it prints");
  }
  if (const auto error = codec::fieldValue(*fields, "error")) {
    const std::string description = codec::fieldValue(*fields, "error_description").value_or("");
    std::string message = "the provider refused the sign-in (" +
                          printable(*error + (description.empty() ? "" : ": " + description), 300) + ")";
    const std::string cause = likelyCause(*error, description);
    if (!cause.empty()) message += ": " + cause;
    throw Error(ErrorKind::Auth, message);
  }
  codec::FormFields exchange{{"grant_type", "authorization_code"},
                             {"code", *codec::fieldValue(*fields, "code")},
                             {"redirect_uri", redirect_uri},
                             {"client_id", client.client_id},
                             {"code_verifier", verifier}};
  if (!client.client_secret.empty()) {
    exchange.emplace_back("client_secret", std::string(client.client_secret.reveal()));
  }
  const FormWipe wipe_exchange(exchange);
  const EndpointAnswer answer = token.post(exchange, "the authorization code exchange");
  return token.grantFrom(answer, "the authorization code");
}

}  // namespace popgate::oauth
