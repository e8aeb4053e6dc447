#include "switchboard/telemetry/grpc_metadata.h"

namespace switchboard::telemetry {

void AddMetadata(const TraceHeaders& headers, grpc::ClientContext* context) {
  if (headers.traceparent.empty()) return;
  context->AddMetadata("traceparent", headers.traceparent);
  if (!headers.tracestate.empty()) context->AddMetadata("tracestate", headers.tracestate);
  if (!headers.baggage.empty()) context->AddMetadata("baggage", headers.baggage);
}

TraceHeaders FromMetadata(const grpc::ServerContextBase& context) {
  TraceHeaders headers;
  const auto& metadata = context.client_metadata();
  auto get = [&](const char* key, std::string* out) {
    auto it = metadata.find(key);
    if (it != metadata.end()) out->assign(it->second.data(), it->second.size());
  };
  get("traceparent", &headers.traceparent);
  get("tracestate", &headers.tracestate);
  get("baggage", &headers.baggage);
  return headers;
}

}  // namespace switchboard::telemetry
