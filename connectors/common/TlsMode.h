#pragma once
// How a connection is secured. Shared by config (what the user wrote) and net (what is done).
namespace popgate {
enum class TlsMode {
  Implicit,  // TLS from the first byte (POP3S 995, IMAPS 993). The default.
  StartTls,  // plaintext greeting, then STLS/STARTTLS, which is then mandatory
  None,      // plaintext throughout; the only way credentials travel unencrypted
};
}  // namespace popgate
