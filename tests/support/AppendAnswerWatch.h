#pragma once
// Watches one IMAP connection as a proxy relays it and picks out the server's tagged OK to an
// APPEND: the one answer a test holds back to kill the client in the gap between "the server
// stored the message" and "the client recorded it". Pure: fed bytes, never touches a socket.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::test {

// Splits an IMAP byte stream into physical lines and literals: a line that ends in {n} or {n+}
// is followed by n bytes of literal, after which the same logical line goes on.
class ImapStreamSplitter {
 public:
  struct Piece {
    std::string bytes;
    bool literal = false;     // literal bytes, not a line
    bool line_start = false;  // a line that starts a logical line (a command or a response)
  };
  // Takes `bytes` and returns every piece now complete, in order; an unfinished line is kept
  // until its LF arrives (a literal is handed on as it comes, in as many pieces as it takes).
  std::vector<Piece> feed(std::string_view bytes);
  // What is held back: the start of a line whose LF has not come yet.
  const std::string& held() const noexcept { return partial_; }

 private:
  std::string partial_;
  std::uint64_t literal_left_ = 0;
  bool continuing_ = false;  // the next line continues a logical line after a literal
};

// Both directions of one connection: the client's APPEND commands (their tags) and the server's
// answers, each of which is told apart as "the tagged OK of an APPEND" or anything else.
class AppendAnswerWatch {
 public:
  // Bytes the client sent: notes the tag of every APPEND command in them.
  void fromClient(std::string_view bytes);
  // Bytes the server sent: the pieces now complete (see ImapStreamSplitter); `append_ok` marks
  // the line "<tag> OK ..." that answers an APPEND of this connection.
  struct Answer {
    std::string bytes;
    bool append_ok = false;
  };
  std::vector<Answer> fromServer(std::string_view bytes);
  // The start of a server line not yet complete (for the relay to flush when the server closes).
  const std::string& heldFromServer() const noexcept { return server_.held(); }

 private:
  ImapStreamSplitter client_;
  ImapStreamSplitter server_;
  std::set<std::string> append_tags_;
};

}  // namespace popgate::test
