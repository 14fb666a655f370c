#pragma once
// Where a client's mailboxes live on an IMAP server: the hierarchy delimiter (RFC 3501 §6.3.8,
// LIST "" "") and the personal namespace (RFC 2342 NAMESPACE). A Dovecot or Gmail puts personal
// folders at the top ("" with "." or "/"); Courier and Cyrus put them under "INBOX." — there a
// folder "Work" must be created as "INBOX.Work". Pure functions on a response's text; no sockets.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::codec {

struct PersonalNamespace {
  std::string prefix;     // e.g. "" or "INBOX." (as the server writes it: modified UTF-7)
  std::string delimiter;  // one character, or empty for a flat server (NIL)
};

// The first personal namespace in the text of an untagged NAMESPACE response (what follows the
// keyword): `(("INBOX." ".")) NIL (("#shared." "."))` gives {"INBOX.", "."}. nullopt when the
// personal namespace is NIL, or the text breaks the grammar (quoted strings only: a literal in a
// NAMESPACE answer is legal but unheard of, and the caller falls back to LIST "" "").
std::optional<PersonalNamespace> parsePersonalNamespace(std::string_view text);

// The hierarchy delimiter in the text of an untagged LIST response (what follows the keyword):
// `(\Noselect) "." ""` gives ".", `() NIL ""` gives "" (flat). nullopt when the text breaks the
// grammar.
std::optional<std::string> parseListDelimiter(std::string_view text);

// One untagged LIST response: a mailbox, its attributes and its hierarchy delimiter.
struct MailboxEntry {
  std::vector<std::string> attributes;  // e.g. "\\Noselect", "\\HasChildren", as sent
  std::string delimiter;                // one character, or empty (NIL)
  std::string name;                     // as the server wrote it (modified UTF-7)
};

// The text of an untagged LIST response (what follows the keyword), RFC 3501 §7.2.2:
// mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
// `() "/" Work` gives {{}, "/", "Work"}; `(\HasNoChildren) "." "INBOX.Work"` gives
// {{"\\HasNoChildren"}, ".", "INBOX.Work"}. The name must be a quoted string or an atom (a
// literal name leaves no text to read here): nullopt for it and for any break of the grammar.
// Extended data after the name (RFC 5258) is ignored.
std::optional<MailboxEntry> parseMailboxEntry(std::string_view text);

// True when `entry` has the attribute `name` (case-insensitive, e.g. "\\Noselect").
bool hasAttribute(const MailboxEntry& entry, std::string_view name);

// What goes in front of `folder` (already in the server's delimiter, not yet in modified UTF-7)
// to name it on the server: the personal prefix, unless the name is INBOX (any case) or below
// it, or already starts with the prefix; else nothing. The prefix is the server's own spelling
// (modified UTF-7), to put in front of the encoded name.
std::string_view personalPrefixFor(std::string_view folder, const PersonalNamespace& ns);

}  // namespace popgate::codec
