#pragma once
// A real mail server started by a test, as interop tests see it: where it listens, how its users
// log in, and its mail in and out. DovecotSandbox and the ScriptSandbox servers implement it, so
// a test can pair any POP3 source with any IMAP target.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::test {

class MailServer {
 public:
  virtual ~MailServer() = default;

  // The server and version, for messages: "Cyrus IMAP 3.6".
  virtual std::string name() const = 0;
  // Plaintext ports on 127.0.0.1; 0 when the server has no such service.
  virtual std::uint16_t pop3Port() const = 0;
  virtual std::uint16_t imapPort() const = 0;
  // The name `user` logs in with (some servers want user@domain).
  virtual std::string login(const std::string& user) const { return user; }
  // The password of every test user: "pw-" + user.
  static std::string password(std::string_view user) { return "pw-" + std::string(user); }

  // Stores `messages` in `folder` (the server's own name for it, created when missing), in this
  // order, as a delivery to the mailbox would. Throws std::runtime_error.
  virtual void seedMany(const std::string& user, const std::vector<std::string>& messages,
                        const std::string& folder = "INBOX") = 0;
  // Every message of `folder` (the server's name), as stored, in UID order. Throws
  // std::runtime_error (e.g. no such folder).
  virtual std::vector<std::string> messages(const std::string& user,
                                            const std::string& folder = "INBOX") = 0;
  // The number of messages in `folder`. Throws std::runtime_error (e.g. no such folder).
  virtual std::size_t count(const std::string& user, const std::string& folder = "INBOX") = 0;
  // The number of messages POP3 offers `user` (its INBOX).
  std::size_t popBoxSize(const std::string& user) { return count(user, "INBOX"); }
  // The server's log so far (for failure messages).
  virtual std::string log() const = 0;
};

}  // namespace popgate::test
