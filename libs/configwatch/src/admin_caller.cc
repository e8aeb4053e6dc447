#include "switchboard/configwatch/admin_caller.h"

#include <chrono>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::configwatch {
namespace {

absl::Status CheckTokenSha256(std::string_view value, std::string_view what) {
  if (value.empty()) return absl::OkStatus();
  if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("must be the SHA-256 of the ", what, ": 64 lowercase hex digits"));
  }
  return absl::OkStatus();
}

absl::Status HashToken(std::string_view name, std::string* token, std::string* token_sha256) {
  if (token->empty()) return absl::OkStatus();
  if (!token_sha256->empty()) {
    token->clear();
    return absl::InvalidArgumentError(StrCat("set ", name, " or ", name, "_sha256, not both"));
  }
  *token_sha256 = crypto::Sha256Hex(*token);
  token->clear();
  return absl::OkStatus();
}

}  // namespace

AdminCaller IdentifyAdminCaller(std::string_view authorization,
                                std::string_view admin_token_sha256,
                                const AdminCredentialLookup& lookup, int64_t now_unix,
                                std::string_view service_token_sha256) {
  AdminCaller caller;
  std::string_view value = TrimBlanks(authorization);
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view scheme = value.substr(0, kBearer.size());
  if (value.size() <= kBearer.size() || (scheme != kBearer && scheme != "bearer ")) {
    caller.reason =
        "an admin credential is required: an admin token or an admin's API key (sbctl: "
        "--admin-token or SWITCHBOARD_ADMIN_TOKEN)";
    return caller;
  }
  std::string hash = crypto::Sha256Hex(TrimBlanks(value.substr(kBearer.size())));
  if (!admin_token_sha256.empty() && crypto::ConstantTimeEquals(hash, admin_token_sha256)) {
    caller.role = AdminCaller::Role::kAdmin;
    caller.name = "admin-token";
    return caller;
  }
  if (!service_token_sha256.empty() && crypto::ConstantTimeEquals(hash, service_token_sha256)) {
    caller.role = AdminCaller::Role::kService;
    caller.name = "service";
    return caller;
  }
  const registry::v1::ApiKey* key = lookup.find_key ? lookup.find_key(hash) : nullptr;
  const registry::v1::User* user =
      key == nullptr || !lookup.find_user ? nullptr : lookup.find_user(key->user_email());
  if (user == nullptr || (key->expires_unix() > 0 && now_unix >= key->expires_unix())) {
    caller.reason = "invalid admin credential";
    return caller;
  }
  caller.role = user->is_admin() ? AdminCaller::Role::kAdmin : AdminCaller::Role::kMember;
  caller.name = user->email();
  return caller;
}

AdminCaller IdentifyAdminCaller(const grpc::ServerContextBase& context,
                                std::string_view admin_token_sha256,
                                const AdminCredentialLookup& lookup,
                                std::string_view service_token_sha256) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kAdminCredentialHeader);
  std::string_view authorization;
  if (it != metadata.end()) authorization = std::string_view(it->second.data(), it->second.size());
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return IdentifyAdminCaller(authorization, admin_token_sha256, lookup, now, service_token_sha256);
}

std::string BearerAuthorization(std::string_view token) {
  return token.empty() ? std::string() : StrCat("Bearer ", token);
}

absl::Status CheckAdminTokenSha256(std::string_view value) {
  return CheckTokenSha256(value, "admin token");
}

absl::Status CheckServiceTokenSha256(std::string_view value) {
  return CheckTokenSha256(value, "service token");
}

absl::Status HashAdminToken(std::string* admin_token, std::string* admin_token_sha256) {
  return HashToken("admin_token", admin_token, admin_token_sha256);
}

absl::Status HashServiceToken(std::string* service_token, std::string* service_token_sha256) {
  return HashToken("service_token", service_token, service_token_sha256);
}

}  // namespace switchboard::configwatch
