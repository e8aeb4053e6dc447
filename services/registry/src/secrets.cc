#include "services/registry/src/secrets.h"

#include <google/protobuf/util/json_util.h>

#include "services/registry/src/snapshot_diff.h"
#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

void BlankValues(google::protobuf::Map<std::string, std::string>* map) {
  for (auto& [key, value] : *map) {
    if (!value.empty()) value = kBlankedSecret;
  }
}

absl::Status RestoreValues(google::protobuf::Map<std::string, std::string>* incoming,
                           const google::protobuf::Map<std::string, std::string>* stored,
                           std::string_view path) {
  for (auto& [key, value] : *incoming) {
    if (value != kBlankedSecret) continue;
    if (stored == nullptr || stored->find(key) == stored->end()) {
      return absl::InvalidArgumentError(
          StrCat(path, ".", key, ": '***' keeps the stored value, but none is stored"));
    }
    value = stored->at(key);
  }
  return absl::OkStatus();
}

}  // namespace

void BlankSecrets(v1::Server* server) {
  BlankValues(server->mutable_env());
  BlankValues(server->mutable_headers());
  if (!server->bearer_token().empty()) server->set_bearer_token(kBlankedSecret);
}

void BlankSecrets(v1::ApiKey* key) { key->clear_key_sha256(); }

void BlankSecrets(v1::Change* change) {
  if (change->has_server()) BlankSecrets(change->mutable_server());
  if (change->has_api_key()) BlankSecrets(change->mutable_api_key());
}

absl::Status RestoreBlankedSecrets(v1::Server* incoming, const v1::Server* stored,
                                   std::string_view path) {
  if (incoming->bearer_token() == kBlankedSecret) {
    if (stored == nullptr || stored->bearer_token().empty()) {
      return absl::InvalidArgumentError(
          StrCat(path, ".bearer_token: '***' keeps the stored value, but none is stored"));
    }
    incoming->set_bearer_token(stored->bearer_token());
  }
  absl::Status env = RestoreValues(
      incoming->mutable_env(), stored == nullptr ? nullptr : &stored->env(), StrCat(path, ".env"));
  if (!env.ok()) return env;
  return RestoreValues(incoming->mutable_headers(),
                       stored == nullptr ? nullptr : &stored->headers(), StrCat(path, ".headers"));
}

std::string RedactedJson(const v1::Change& change) {
  v1::Change copy = change;
  BlankSecrets(&copy);
  const google::protobuf::Message* object = ChangeObject(copy);
  if (object == nullptr) return "";
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*object, &json, options).ok()) return "{}";
  return json;
}

}  // namespace switchboard::registry
