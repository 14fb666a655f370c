#pragma once
// The configuration's secrets (passwords, tokens) are popgate::Secret: never printed by accident,
// wiped when dropped, masked in every text popgate shows (connectors/common/Secret.h).

#include "connectors/common/Secret.h"

namespace popgate::config {

using Secret = popgate::Secret;

}  // namespace popgate::config
