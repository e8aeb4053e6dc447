#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace switchboard::edge {

// Bridges one gRPC callback-API unary call into an Asio asynchronous operation that completes
// with (grpc::Status, Response) on the caller's executor; with use_awaitable it is awaited as a
// std::tuple. `start(context, response, done)` must begin the call, typically
// `stub->async()->Method(context, &request, response, std::move(done))`; the request must stay
// alive until completion (a coroutine's local does). The call carries `deadline`, and
// cancelling the awaiting operation cancels the call (it then completes with CANCELLED).
template <typename Response, typename Start, typename Token>
auto AsyncUnary(Start start, std::chrono::system_clock::time_point deadline, Token&& token) {
  using Signature = void(grpc::Status, Response);
  return boost::asio::async_initiate<Token, Signature>(
      [deadline](auto handler, Start start_call) {
        // The handler keeps its concrete type: its cancellation slot is the one our cancel
        // handler goes into and is later cleared from.
        using Handler = decltype(handler);
        struct State {
          grpc::ClientContext context;
          Response response;
          std::optional<Handler> handler;
        };
        auto state = std::make_shared<State>();
        auto executor = boost::asio::get_associated_executor(handler);
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        state->handler.emplace(std::move(handler));
        state->context.set_deadline(deadline);
        if (slot.is_connected()) {
          std::weak_ptr<State> weak = state;
          slot.assign([weak](boost::asio::cancellation_type) {
            if (auto s = weak.lock()) s->context.TryCancel();
          });
        }
        auto work = boost::asio::make_work_guard(executor);
        start_call(&state->context, &state->response,
                   std::function<void(grpc::Status)>(
                       [state, executor, slot, work](grpc::Status status) mutable {
                         boost::asio::post(executor, [state, slot, status = std::move(status),
                                                      work = std::move(work)]() mutable {
                           // On the caller's executor, where its slot may be touched.
                           if (slot.is_connected()) slot.clear();
                           Handler h = std::move(*state->handler);
                           state->handler.reset();
                           std::move(h)(std::move(status), std::move(state->response));
                         });
                       }));
      },
      token, std::move(start));
}

}  // namespace switchboard::edge
