#include "ImapNamespace.h"

#include "ImapGrammar.h"
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
  // An atom of ASTRING-CHARs (ATOM-CHAR or "]"), at least one.
  std::optional<std::string> atom() {
    std::size_t n = 0;
    while (n < rest_.size() && (isAtomChar(rest_[n]) || rest_[n] == ']')) ++n;
    if (n == 0) return std::nullopt;
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }
  // mbx-list-flags: "(" [flag *(SP flag)] ")" with each flag "\" atom (or an atom).
  std::optional<std::vector<std::string>> flagList() {
    if (!take('(')) return std::nullopt;
    std::vector<std::string> flags;
    for (;;) {
      if (take(')')) return flags;
      if (!flags.empty() && !take(' ')) return std::nullopt;
      const bool backslash = take('\\');
      auto name = atom();
      if (!name) return std::nullopt;
      flags.push_back((backslash ? "\\" : "") + *name);
    }
  }
  bool atEnd() const { return rest_.empty() || rest_.front() == ' '; }
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
  ListedMailbox entry;
  auto flags = t.flagList();
  if (!flags || !t.take(' ')) return std::nullopt;
  entry.attributes = std::move(*flags);
  auto delimiter = t.delimiter();
  if (!delimiter || !t.take(' ')) return std::nullopt;
  entry.delimiter = std::move(*delimiter);
  auto name = t.quoted();
  if (!name) name = t.atom();
  if (!name || !t.atEnd()) return std::nullopt;
  entry.name = std::move(*name);
  return entry;
}

bool hasAttribute(const ListedMailbox& entry, std::string_view name) {
  for (const std::string& attribute : entry.attributes) {
    if (equalsNoCase(attribute, name)) return true;
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
