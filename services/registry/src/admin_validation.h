#pragma once

#include <absl/status/status.h>

#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// How errors and logs name a kind of object: "server", "namespace", "endpoint", "user",
// "api key", "tool override".
std::string_view KindLabel(v1::Change::Kind kind);

// The request field that carries an object of `kind` in the admin API ("server", "namespace",
// "endpoint", "user", "tool_override"): the start of every field path in its errors.
std::string_view ObjectField(v1::Change::Kind kind);

// Checks an object about to be created or updated (the field of `object` matching its kind)
// against the stored configuration `current`, with the checks Apply uses (config::Validate*):
// InvalidArgument naming the field, e.g. "endpoint.namespace: unknown namespace 'x'". A tool
// override's rename must also be unique among the other overrides of its namespace.
absl::Status ValidateObject(const v1::Snapshot& current, const v1::Change& object);

}  // namespace switchboard::registry
