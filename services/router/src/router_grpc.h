#pragma once

#include "services/router/src/router_service.h"
#include "switchboard/router/v1/router.grpc.pb.h"

namespace switchboard::router {

// The Router gRPC service: each Exchange stream from an edge becomes a ClientSink whose
// frames RouterService answers, multiplexed by call_id.
class RouterGrpc final : public v1::Router::CallbackService {
 public:
  explicit RouterGrpc(RouterService* service) : service_(service) {}

  grpc::ServerBidiReactor<v1::RouterRequest, v1::RouterResponse>* Exchange(
      grpc::CallbackServerContext* context) override;

 private:
  RouterService* service_;
};

}  // namespace switchboard::router
