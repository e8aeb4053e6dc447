#include "services/auth/src/auth_grpc.h"

#include "services/auth/src/auth_service.h"
#include "switchboard/common/strings.h"

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
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  *response = AuthService::Authorize(*request, view.get(), now);
  if (response->decision() != v1::AuthorizeResponse::ALLOW) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  if (key_use_ != nullptr && !response->api_key_id().empty()) {
    key_use_->Note(response->api_key_id(), now);
  }
  std::vector<Limit> limits;
  if (limiter_ != nullptr) limits = LimitsFor(*request, *response, *view);
  if (limits.empty()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  limiter_->Check(std::move(limits),
                  [reactor, response](absl::StatusOr<LimitDecision> decision) {
                    if (!decision.ok()) {
                      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                   std::string(decision.status().message())));
                      return;
                    }
                    if (!decision->allowed) {
                      response->set_decision(v1::AuthorizeResponse::RATE_LIMITED);
                      response->set_reason(StrCat("rate limit exceeded (", decision->scope,
                                                  " requests per minute)"));
                      response->set_retry_after_seconds(decision->retry_after_seconds);
                    }
                    reactor->Finish(grpc::Status::OK);
                  });
  return reactor;
}

}  // namespace switchboard::auth
