#include "services/auth/src/auth_grpc.h"

#include "services/auth/src/auth_service.h"

namespace switchboard::auth {

grpc::ServerUnaryReactor* AuthGrpc::Authorize(grpc::CallbackServerContext* context,
                                              const v1::AuthorizeRequest* request,
                                              v1::AuthorizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "configuration not loaded yet"));
    return reactor;
  }
  *response = AuthService::Authorize(*request, view.get());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace switchboard::auth
