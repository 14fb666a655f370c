#include "DigestContext.h"

#include <openssl/evp.h>

#include "connectors/common/Error.h"

namespace popgate::codec {

void DigestContextFree::operator()(evp_md_ctx_st* context) const noexcept { EVP_MD_CTX_free(context); }

DigestContext newDigestContext() {
  DigestContext context(EVP_MD_CTX_new());
  if (!context) throw Error(ErrorKind::Internal, "OpenSSL cannot allocate a digest context");
  return context;
}

}  // namespace popgate::codec
