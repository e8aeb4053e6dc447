#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "services/registry/src/config_store.h"

namespace switchboard::registry {

// Runs blocking store work off the gRPC threads: a fixed set of worker threads, each owning
// one ConfigStore (so one database connection), fed by a bounded queue. A full queue refuses
// work instead of growing, so a flood of requests cannot exhaust memory.
class StorePool {
 public:
  using Task = std::function<void(ConfigStore& store)>;

  // Starts `threads` workers; each makes its store with `factory` on its own thread.
  StorePool(ConfigStoreFactory factory, int threads, size_t max_queued);
  ~StorePool();

  StorePool(const StorePool&) = delete;
  StorePool& operator=(const StorePool&) = delete;

  // Queues a task for the next free worker. False when the queue is full or the pool stopped;
  // the task is then not run and the caller answers the request itself.
  bool Submit(Task task);

  // Refuses new tasks, runs those already queued, and joins the workers. Idempotent.
  void Stop();

 private:
  void Work();

  ConfigStoreFactory factory_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace switchboard::registry
