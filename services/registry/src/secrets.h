#pragma once

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// What a blanked secret reads as in admin responses.
inline constexpr char kBlankedSecret[] = "***";

// Replaces a server's secrets (every env value, the bearer token, every header value) by
// "***" so admin responses show which secrets are set without revealing them. Empty values
// stay empty; names (env keys, header names) are kept.
void BlankSecrets(v1::Server* server);

// Blanks the secrets of the object a change carries.
void BlankSecrets(v1::Change* change);

}  // namespace switchboard::registry
