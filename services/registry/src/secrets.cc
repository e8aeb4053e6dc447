#include "services/registry/src/secrets.h"

namespace switchboard::registry {
namespace {

void BlankValues(google::protobuf::Map<std::string, std::string>* map) {
  for (auto& [key, value] : *map) {
    if (!value.empty()) value = kBlankedSecret;
  }
}

}  // namespace

void BlankSecrets(v1::Server* server) {
  BlankValues(server->mutable_env());
  BlankValues(server->mutable_headers());
  if (!server->bearer_token().empty()) server->set_bearer_token(kBlankedSecret);
}

void BlankSecrets(v1::Change* change) {
  if (change->has_server()) BlankSecrets(change->mutable_server());
}

}  // namespace switchboard::registry
