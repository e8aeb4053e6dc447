#include "services/router/src/router_wire.h"

#include "switchboard/common/log.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::router {

using v1::RouterRequest;
using v1::RouterResponse;

namespace {

// One edge connection as the service sees it. Sends after the connection closed are dropped.
class WireSink final : public ClientSink {
 public:
  explicit WireSink(std::shared_ptr<wire::Connection> connection)
      : connection_(std::move(connection)) {}

  void Send(uint64_t call_id, std::string message, bool final) override {
    RouterResponse response;
    response.set_call_id(call_id);
    response.set_message(std::move(message));
    response.set_final(final);
    connection_->Send(response);
  }

  void SendToSession(const std::string& session_id, std::string message) override {
    RouterResponse response;
    response.set_session_id(session_id);
    response.set_message(std::move(message));
    connection_->Send(response);
  }

 private:
  std::shared_ptr<wire::Connection> connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<wire::Listener>> ServeExchange(boost::asio::any_io_executor executor,
                                                              const std::string& listen,
                                                              RouterService* service) {
  return wire::Listener::Start(
      {std::move(executor)}, listen, wire::kRouterExchange,
      [service](std::shared_ptr<wire::Connection> connection) {
        auto sink = std::make_shared<WireSink>(connection);
        std::weak_ptr<WireSink> weak = sink;
        connection->Start(
            [service, sink](std::string_view frame) {
              RouterRequest request;
              if (!request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
                log::Warn("edge sent a frame that is not a RouterRequest; ignored");
                return;
              }
              service->Handle(sink, std::move(request));
            },
            [service, weak](absl::Status status) {
              if (!status.ok()) {
                log::Warn("edge connection ended", {{"error", std::string(status.message())}});
              }
              if (auto s = weak.lock()) service->Detach(s.get());
            });
      });
}

}  // namespace switchboard::router
