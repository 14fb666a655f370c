#pragma once
// The document of `popgate ledger export` / `import`: a whole ledger (LedgerImage) as one JSON
// text, versioned ("format": "popgate-ledger", "version": 1). Objects have their keys sorted and
// lists their ledger order (accounts by name, rows by key, hours ascending, notices oldest
// first), so the same ledger gives the same text. A ledger holds no secrets, and the document
// adds nothing from the configuration. A codec only: no files, no database.

#include <string>
#include <string_view>

#include "gateway/delivery/Ledger.h"

namespace popgate::gateway {

class LedgerDocument {
 public:
  // The version this popgate writes and reads.
  static constexpr int kVersion = 1;

  // `image` as the document's text (ends with a newline).
  static std::string encode(const LedgerImage& image);
  // The image in `text`. Throws Error(Config) naming what is wrong when `text` is not such a
  // document: not JSON, another format, a version other than kVersion, a field missing or of the
  // wrong type, a number out of its range, an unknown row state, an account or key twice, a NUL
  // in a text.
  static LedgerImage decode(std::string_view text);
};

}  // namespace popgate::gateway
