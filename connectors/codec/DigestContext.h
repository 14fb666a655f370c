#pragma once
// OpenSSL digest contexts (EVP_MD_CTX) owned by a std::unique_ptr: one deleter for every digest
// popgate computes (SHA-256 of messages, MD5 for APOP).

#include <memory>

struct evp_md_ctx_st;

namespace popgate::codec {

struct DigestContextFree {
  void operator()(evp_md_ctx_st* context) const noexcept;
};
using DigestContext = std::unique_ptr<evp_md_ctx_st, DigestContextFree>;

// A fresh context. Throws Error(Internal) when OpenSSL cannot allocate one.
DigestContext newDigestContext();

}  // namespace popgate::codec
