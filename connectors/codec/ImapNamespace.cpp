#include "ImapNamespace.h"

#include "connectors/common/Ascii.h"

namespace popgate::codec {

namespace {

// A cursor over a response's text with the few IMAP tokens NAMESPACE and LIST answers are made of.
class Tokens {
 public:
  explicit Tokens(std::string_view text) : rest_(text) {}

  void skipSpaces() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
  }
  bool take(char c) {
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }
  bool takeNil() {
    if (!startsWithNoCase(rest_, "NIL")) return false;
    if (rest_.size() > 3 && rest_[3] != ' ' && rest_[3] != ')') return false;
    rest_.remove_prefix(3);
    return true;
  }
  // quoted = DQUOTE *QUOTED-CHAR DQUOTE, with \" and \\ as the only escapes.
  std::optional<std::string> quoted() {
    if (!take('"')) return std::nullopt;
    std::string out;
    while (!rest_.empty()) {
      const char c = rest_.front();
      rest_.remove_prefix(1);
      if (c == '"') return out;
      if (c == '\\') {
        if (rest_.empty() || (rest_.front() != '"' && rest_.front() != '\\')) return std::nullopt;
        out += rest_.front();
        rest_.remove_prefix(1);
        continue;
      }
      if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
      out += c;
    }
    return std::nullopt;
  }
  // A delimiter: a quoted single character, or NIL (flat).
  std::optional<std::string> delimiter() {
    if (takeNil()) return std::string();
    auto d = quoted();
    if (!d || d->size() != 1) return std::nullopt;
    return d;
  }
  // An atom: the characters up to a space, a parenthesis or the end.
  std::string atom() {
    std::size_t n = 0;
    while (n < rest_.size() && rest_[n] != ' ' && rest_[n] != '(' && rest_[n] != ')' &&
           rest_[n] != '"' && rest_[n] != '{' && static_cast<unsigned char>(rest_[n]) > 0x20) {
      ++n;
    }
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }
  // Skips a parenthesised list (nested, with quoted strings) the cursor stands on.
  bool skipList() {
    if (!take('(')) return false;
    int depth = 1;
    while (depth > 0 && !rest_.empty()) {
      if (rest_.front() == '"') {
        if (!quoted()) return false;
        continue;
      }
      if (rest_.front() == '(') ++depth;
      if (rest_.front() == ')') --depth;
      rest_.remove_prefix(1);
    }
    return depth == 0;
  }

 private:
  std::string_view rest_;
};

}  // namespace

std::optional<PersonalNamespace> parsePersonalNamespace(std::string_view text) {
  Tokens t(text);
  t.skipSpaces();
  if (t.takeNil()) return std::nullopt;
  // Namespace = "(" 1*Namespace-Descr ")"; Namespace-Descr = "(" string SP delim *ext ")"
  if (!t.take('(') || !t.take('(')) return std::nullopt;
  PersonalNamespace ns;
  auto prefix = t.quoted();
  if (!prefix) return std::nullopt;
  ns.prefix = std::move(*prefix);
  if (!t.take(' ')) return std::nullopt;
  auto delimiter = t.delimiter();
  if (!delimiter) return std::nullopt;
  ns.delimiter = std::move(*delimiter);
  return ns;  // extensions and further namespaces do not matter here
}

std::optional<std::string> parseListDelimiter(std::string_view text) {
  Tokens t(text);
  t.skipSpaces();
  if (!t.skipList()) return std::nullopt;  // the mailbox attributes
  if (!t.take(' ')) return std::nullopt;
  return t.delimiter();
}

std::optional<ListedMailbox> parseListEntry(std::string_view text) {
  Tokens t(text);
  t.skipSpaces();
  if (!t.take('(')) return std::nullopt;
  ListedMailbox entry;
  for (;;) {
    t.skipSpaces();
    if (t.take(')')) break;
    std::string attribute = t.atom();
    if (attribute.empty()) return std::nullopt;
    entry.attributes.push_back(std::move(attribute));
  }
  if (!t.take(' ')) return std::nullopt;
  auto delimiter = t.delimiter();
  if (!delimiter) return std::nullopt;
  entry.delimiter = std::move(*delimiter);
  if (!t.take(' ')) return std::nullopt;
  if (auto quoted = t.quoted()) {
    entry.name = std::move(*quoted);
  } else {
    entry.name = t.atom();
    if (entry.name.empty()) return std::nullopt;
  }
  return entry;  // extended data (RFC 5258 mbox-list-extended) may follow: not needed here
}

bool hasAttribute(const ListedMailbox& entry, std::string_view attribute) {
  for (const std::string& a : entry.attributes) {
    if (equalsNoCase(a, attribute)) return true;
  }
  return false;
}

std::string_view personalPrefixFor(std::string_view folder, const PersonalNamespace& ns) {
  if (ns.prefix.empty() || equalsNoCase(folder, "INBOX")) return {};
  if (!ns.delimiter.empty() && folder.size() > 5 && equalsNoCase(folder.substr(0, 5), "INBOX") &&
      folder.substr(5, ns.delimiter.size()) == ns.delimiter) {
    return {};  // below INBOX already
  }
  if (folder.substr(0, ns.prefix.size()) == ns.prefix) return {};
  return ns.prefix;
}

}  // namespace popgate::codec
