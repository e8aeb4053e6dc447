#include "services/edge/src/grpc_auth_client.h"

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>

#include "services/edge/src/grpc_bridge.h"
#include "switchboard/common/strings.h"
#include "switchboard/telemetry/grpc_metadata.h"

namespace switchboard::edge {

namespace asio = boost::asio;
using auth::v1::AuthorizeRequest;
using auth::v1::AuthorizeResponse;

GrpcAuthClient::GrpcAuthClient(std::shared_ptr<grpc::Channel> channel,
                               std::chrono::milliseconds timeout)
    : stub_(auth::v1::Auth::NewStub(std::move(channel))), timeout_(timeout) {}

asio::awaitable<absl::StatusOr<AuthResult>> GrpcAuthClient::Authorize(AuthQuery query) {
  AuthorizeRequest request;
  request.set_endpoint(std::move(query.endpoint));
  request.set_credential(std::move(query.credential));
  request.set_credential_source(std::move(query.credential_source));
  request.set_tool(std::move(query.tool));
  request.set_session_id(std::move(query.session_id));
  request.set_remote_address(std::move(query.remote_address));
  telemetry::TraceHeaders trace = std::move(query.trace);

  auto [status, response] = co_await AsyncUnary<AuthorizeResponse>(
      [this, &request, &trace](grpc::ClientContext* context, AuthorizeResponse* out,
                               std::function<void(grpc::Status)> done) {
        telemetry::AddMetadata(trace, context);
        stub_->async()->Authorize(context, &request, out, std::move(done));
      },
      std::chrono::system_clock::now() + timeout_, asio::use_awaitable);
  if (!status.ok()) {
    co_return absl::UnavailableError(StrCat("auth: ", status.error_message()));
  }
  AuthResult result;
  switch (response.decision()) {
    case AuthorizeResponse::ALLOW:
      result.decision = AuthResult::Decision::kAllow;
      break;
    case AuthorizeResponse::UNAUTHENTICATED:
      result.decision = AuthResult::Decision::kUnauthenticated;
      break;
    case AuthorizeResponse::FORBIDDEN:
      result.decision = AuthResult::Decision::kForbidden;
      break;
    case AuthorizeResponse::NOT_FOUND:
      result.decision = AuthResult::Decision::kNotFound;
      break;
    case AuthorizeResponse::RATE_LIMITED:
      result.decision = AuthResult::Decision::kRateLimited;
      break;
    default:
      co_return absl::UnavailableError("auth: answered without a decision");
  }
  result.reason = std::move(*response.mutable_reason());
  result.user_email = std::move(*response.mutable_user_email());
  result.api_key_id = std::move(*response.mutable_api_key_id());
  result.namespace_name = std::move(*response.mutable_namespace_());
  result.retry_after_seconds = response.retry_after_seconds();
  result.resource_metadata_url = std::move(*response.mutable_resource_metadata_url());
  result.bearer_error = std::move(*response.mutable_bearer_error());
  result.required_scope = std::move(*response.mutable_required_scope());
  result.reuse = std::chrono::milliseconds(std::max<int64_t>(response.reuse_ms(), 0));
  result.config_revision = response.config_revision();
  co_return result;
}

asio::awaitable<absl::StatusOr<std::optional<ResourceMetadata>>>
GrpcAuthClient::GetResourceMetadata(std::string endpoint) {
  auth::v1::ResourceMetadataRequest request;
  request.set_endpoint(std::move(endpoint));
  auto [status, response] = co_await AsyncUnary<auth::v1::ResourceMetadataResponse>(
      [this, &request](grpc::ClientContext* context, auth::v1::ResourceMetadataResponse* out,
                       std::function<void(grpc::Status)> done) {
        stub_->async()->GetResourceMetadata(context, &request, out, std::move(done));
      },
      std::chrono::system_clock::now() + timeout_, asio::use_awaitable);
  if (!status.ok()) {
    co_return absl::UnavailableError(StrCat("auth: ", status.error_message()));
  }
  if (!response.found()) co_return std::nullopt;
  ResourceMetadata metadata;
  metadata.resource = std::move(*response.mutable_resource());
  metadata.authorization_servers.assign(response.authorization_servers().begin(),
                                        response.authorization_servers().end());
  metadata.scopes_supported.assign(response.scopes_supported().begin(),
                                   response.scopes_supported().end());
  co_return metadata;
}

}  // namespace switchboard::edge
