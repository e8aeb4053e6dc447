#pragma once

#include <absl/status/status.h>
#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::configwatch {

// Who is calling an admin API (the registry's, a runner's), or one of the registry's internal
// calls (kService: another Switchboard service, by the service token).
struct AdminCaller {
  enum class Role { kNone, kMember, kAdmin, kService };
  Role role = Role::kNone;
  std::string name;    // "admin-token", "service", or the user's email
  std::string reason;  // why the caller is not known (safe to show)
};

// The request metadata an admin client sends its credential in: `authorization: Bearer <secret>`.
inline constexpr char kAdminCredentialHeader[] = "authorization";

// Looks a user's API key up by the SHA-256 (lowercase hex) of the clear key; the user by email.
struct AdminCredentialLookup {
  std::function<const registry::v1::ApiKey*(std::string_view sha256_hex)> find_key;
  std::function<const registry::v1::User*(std::string_view email)> find_user;
};

// Identifies an admin caller from its `authorization` metadata value ("Bearer <secret>"): the
// admin token whose SHA-256 is `admin_token_sha256` (empty: none configured) is an admin; the
// service token whose SHA-256 is `service_token_sha256` (empty: none) is kService; an API key
// of an existing user is an admin when the user is one, else a member. Expired keys, other
// credentials and none at all are kNone. Secrets are compared by their hashes in constant time
// and never logged.
AdminCaller IdentifyAdminCaller(std::string_view authorization,
                                std::string_view admin_token_sha256,
                                const AdminCredentialLookup& lookup, int64_t now_unix,
                                std::string_view service_token_sha256 = {});

// The same for a gRPC call: its kAdminCredentialHeader metadata, at the current time.
AdminCaller IdentifyAdminCaller(const grpc::ServerContextBase& context,
                                std::string_view admin_token_sha256,
                                const AdminCredentialLookup& lookup,
                                std::string_view service_token_sha256 = {});

// The kAdminCredentialHeader value that presents `token` ("Bearer <token>"); empty for none.
std::string BearerAuthorization(std::string_view token);

// Checks an `admin_token_sha256` (or `service_token_sha256`) setting: empty, or 64 lowercase
// hex digits (what `printf %s "$TOKEN" | sha256sum` prints).
absl::Status CheckAdminTokenSha256(std::string_view value);
absl::Status CheckServiceTokenSha256(std::string_view value);

// Settles a service's two admin token settings into `*admin_token_sha256`: a clear
// `*admin_token` (from a secret's environment) is hashed into it and then cleared, so only the
// hash is kept. InvalidArgument when both are set.
absl::Status HashAdminToken(std::string* admin_token, std::string* admin_token_sha256);

// The same for the registry's `service_token` and `service_token_sha256`.
absl::Status HashServiceToken(std::string* service_token, std::string* service_token_sha256);

}  // namespace switchboard::configwatch
