#pragma once

namespace switchboard::wire {

// The protocols spoken over wire::Connection, named by their first frame.

// edge → router: RouterRequest frames out, RouterResponse frames back, the messages of
// router.v1's Exchange stream, multiplexed by call_id.
inline constexpr char kRouterExchange[] = "switchboard.router.v1.Exchange";

// router → runner: one attachment per connection, AttachRequest frames out (Open first),
// AttachResponse frames back, the messages of runner.v1's Attach stream. The runner ends an
// attachment it refuses with an AttachResponse carrying `closed`.
inline constexpr char kRunnerAttach[] = "switchboard.runner.v1.Attach";

}  // namespace switchboard::wire
