#pragma once

#include <memory>

#include "switchboard/auth/v1/auth.pb.h"
#include "switchboard/configwatch/config_view.h"

namespace switchboard::auth {

// Decides who is calling an endpoint and whether they may, from the Watch-fed configuration
// alone: no database or network on this path. Keys are compared by their SHA-256, the only
// form the configuration holds.
class AuthService {
 public:
  // Returns the decision for one request against the configuration `view` (which may be null
  // before the first snapshot: then every request is refused as unavailable).
  // A key past its expiry (at `now_unix`, seconds) is refused like an unknown one; a key
  // scoped to other endpoints is refused as forbidden.
  static v1::AuthorizeResponse Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view, int64_t now_unix);
  // The same at the current time.
  static v1::AuthorizeResponse Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view);
};

}  // namespace switchboard::auth
