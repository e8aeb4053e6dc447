#include "switchboard/configwatch/admin_caller.h"

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::configwatch {

AdminCaller IdentifyAdminCaller(std::string_view authorization,
                                std::string_view admin_token_sha256,
                                const AdminCredentialLookup& lookup, int64_t now_unix) {
  AdminCaller caller;
  std::string_view value = TrimBlanks(authorization);
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() ||
      (value.substr(0, kBearer.size()) != kBearer && value.substr(0, kBearer.size()) != "bearer ")) {
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

}  // namespace switchboard::configwatch
