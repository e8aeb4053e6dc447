#include "services/auth/src/auth_grpc.h"

#include <chrono>
#include <memory>

#include "services/auth/src/auth_service.h"
#include "services/auth/src/auth_telemetry.h"
#include "services/auth/src/rate_limits.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::auth {

namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AuthGrpc::AuthGrpc(const configwatch::ConfigCache* cache, KeyUseReporter* key_use, JwksCache* jwks,
                   OauthOptions oauth, RateLimiter* limiter, std::chrono::milliseconds max_reuse)
    : cache_(cache),
      key_use_(key_use),
      jwks_(jwks),
      oauth_(std::move(oauth)),
      limiter_(limiter),
      max_reuse_(max_reuse) {
  if (jwks_ != nullptr) {
    oauth_.find_key = [jwks = jwks_](const std::string& url, const std::string& kid) {
      return jwks->Find(url, kid);
    };
  }
}

grpc::ServerUnaryReactor* AuthGrpc::Authorize(grpc::CallbackServerContext* context,
                                              const v1::AuthorizeRequest* request,
                                              v1::AuthorizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto telemetry = std::make_shared<AuthorizeTelemetry>(*context, *request);
  telemetry::ScopedActive active(telemetry->span());  // log lines of the call carry its span
  Decide(reactor, request, response, std::move(telemetry), /*may_fetch=*/true);
  return reactor;
}

void AuthGrpc::Decide(grpc::ServerUnaryReactor* reactor, const v1::AuthorizeRequest* request,
                      v1::AuthorizeResponse* response,
                      std::shared_ptr<AuthorizeTelemetry> telemetry, bool may_fetch) {
  // Every way out records the outcome, then answers.
  auto finish = [reactor, response, telemetry](const grpc::Status& status) {
    telemetry->Finish(*response, status);
    reactor->Finish(status);
  };
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "configuration not loaded yet"));
    return;
  }
  int64_t now_ms = NowUnixMs();
  int64_t now = now_ms / 1000;
  MissingKey missing;
  int64_t valid_until = 0;
  *response = AuthService::Authorize(*request, view.get(), now,
                                     jwks_ != nullptr ? &oauth_ : nullptr, &missing, &valid_until);
  response->set_config_revision(view->revision());
  // Once the principal is known, the call's log lines name it (never its credential).
  log::ScopedRequest request_log(request->endpoint(), response->user_email());
  if (may_fetch && !missing.jwks_url.empty() &&
      jwks_->Refresh(missing.jwks_url, missing.kid, [this, reactor, request, response, telemetry] {
        telemetry::ScopedActive active(telemetry->span());
        Decide(reactor, request, response, telemetry, /*may_fetch=*/false);
      })) {
    return;  // decided again once the key set has been fetched
  }
  if (response->decision() != v1::AuthorizeResponse::ALLOW) {
    finish(grpc::Status::OK);
    return;
  }
  if (key_use_ != nullptr && !response->api_key_id().empty()) {
    key_use_->Note(response->api_key_id(), now);
  }
  // Limits hold for every principal, API key or bearer token alike. Only an answer that no
  // limit is configured for may be reused (even with no limiter to count it): a limited
  // request is counted every time.
  std::vector<Limit> limits = LimitsFor(*request, *response, *view);
  if (limits.empty()) {
    response->set_reuse_ms(AuthService::ReuseMs(max_reuse_.count(), valid_until, now_ms));
    finish(grpc::Status::OK);
    return;
  }
  if (limiter_ == nullptr) {
    finish(grpc::Status::OK);
    return;
  }
  limiter_->Check(std::move(limits), [response, finish](absl::StatusOr<LimitDecision> decision) {
    if (!decision.ok()) {
      finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(decision.status().message())));
      return;
    }
    if (!decision->allowed) {
      response->set_decision(v1::AuthorizeResponse::RATE_LIMITED);
      response->set_reason(
          StrCat("rate limit exceeded (", decision->scope, " requests per minute)"));
      response->set_retry_after_seconds(decision->retry_after_seconds);
    }
    finish(grpc::Status::OK);
  });
}

grpc::ServerUnaryReactor* AuthGrpc::GetResourceMetadata(grpc::CallbackServerContext* context,
                                                        const v1::ResourceMetadataRequest* request,
                                                        v1::ResourceMetadataResponse* response) {
  auto* reactor = context->DefaultReactor();
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "configuration not loaded yet"));
    return reactor;
  }
  *response = AuthService::ResourceMetadata(request->endpoint(), view.get(), oauth_);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace switchboard::auth
