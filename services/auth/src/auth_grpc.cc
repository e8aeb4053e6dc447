#include "services/auth/src/auth_grpc.h"

#include "services/auth/src/auth_service.h"
#include "services/auth/src/auth_telemetry.h"

namespace switchboard::auth {

grpc::ServerUnaryReactor* AuthGrpc::Authorize(grpc::CallbackServerContext* context,
                                              const v1::AuthorizeRequest* request,
                                              v1::AuthorizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  AuthorizeTelemetry telemetry(*context, *request);
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "configuration not loaded yet"));
    return reactor;
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  *response = AuthService::Authorize(*request, view.get(), now);
  telemetry.Finish(*response);
  if (key_use_ != nullptr && response->decision() == v1::AuthorizeResponse::ALLOW &&
      !response->api_key_id().empty()) {
    key_use_->Note(response->api_key_id(), now);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace switchboard::auth
