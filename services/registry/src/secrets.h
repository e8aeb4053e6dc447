#pragma once

#include <absl/status/status.h>

#include <string>
#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// What a blanked secret reads as in admin responses.
inline constexpr char kBlankedSecret[] = "***";

// Replaces a server's secrets (every env value, the bearer token, every header value) by
// "***" so admin responses show which secrets are set without revealing them. Empty values
// stay empty; names (env keys, header names) are kept.
void BlankSecrets(v1::Server* server);

// Clears an API key's hash: admin callers see a key's prefix, never its hash.
void BlankSecrets(v1::ApiKey* key);

// Blanks the secrets of the object a change carries.
void BlankSecrets(v1::Change* change);

// For an update that sends back what an admin read: every secret of `incoming` that reads
// "***" takes the stored value from `stored` (nullptr for a new object). InvalidArgument naming
// the field (under `path`) when there is no stored value to keep.
absl::Status RestoreBlankedSecrets(v1::Server* incoming, const v1::Server* stored,
                                   std::string_view path);

// The object a change carries as one line of JSON with its secrets blanked and API key hashes
// removed, for the audit log; "" when the change carries no object.
std::string RedactedJson(const v1::Change& change);

}  // namespace switchboard::registry
