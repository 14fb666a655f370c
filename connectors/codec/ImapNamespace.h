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

// One mailbox of a LIST answer (RFC 3501 §7.2.2, RFC 6154 special-use attributes):
//   mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
// `(\HasNoChildren \All) "/" "[Gmail]/All Mail"` gives the attributes as written, "/" and the
// name as the server spells it (modified UTF-7, unquoted). nullopt when the text breaks the
// grammar, or the name came as a literal (the response parser keeps no literal bytes). RFC 5258
// extended data after the name is ignored.
struct ListedMailbox {
  std::vector<std::string> attributes;
  std::string delimiter;  // "" for NIL
  std::string name;
};
std::optional<ListedMailbox> parseListEntry(std::string_view text);

// Whether `entry` carries `attribute` ("\All"), compared without case.
bool hasAttribute(const ListedMailbox& entry, std::string_view attribute);

// What goes in front of `folder` (already in the server's delimiter, not yet in modified UTF-7)
// to name it on the server: the personal prefix, unless the name is INBOX (any case) or below
// it, or already starts with the prefix; else nothing. The prefix is the server's own spelling
// (modified UTF-7), to put in front of the encoded name.
std::string_view personalPrefixFor(std::string_view folder, const PersonalNamespace& ns);

}  // namespace popgate::codec
