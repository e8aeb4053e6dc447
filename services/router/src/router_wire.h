#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "services/router/src/router_service.h"
#include "switchboard/wire/connection.h"

namespace switchboard::router {

// Serves the edge's Exchange over wire connections (wire::kRouterExchange) on `listen`: each
// connection is one ClientSink, read and written on `executor`, the service's own, so a frame
// crosses no thread in the router. `service` must outlive the listener's connections (call
// RouterService::Shutdown first).
absl::StatusOr<std::unique_ptr<wire::Listener>> ServeExchange(boost::asio::any_io_executor executor,
                                                              const std::string& listen,
                                                              RouterService* service);

}  // namespace switchboard::router
