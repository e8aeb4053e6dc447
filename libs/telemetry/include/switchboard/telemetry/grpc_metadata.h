#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "switchboard/telemetry/trace_context.h"

namespace switchboard::telemetry {

// Adds `traceparent`, `tracestate` and `baggage` metadata (those not empty) to a unary call.
void AddMetadata(const TraceHeaders& headers, grpc::ClientContext* context);

// The trace metadata a unary call arrived with.
TraceHeaders FromMetadata(const grpc::ServerContextBase& context);

}  // namespace switchboard::telemetry
