#include "services/registry/src/store_pool.h"

namespace switchboard::registry {

StorePool::StorePool(ConfigStoreFactory factory, int threads, size_t max_queued)
    : factory_(std::move(factory)), max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

StorePool::~StorePool() { Stop(); }

bool StorePool::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void StorePool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void StorePool::Work() {
  std::unique_ptr<ConfigStore> store = factory_();
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(*store);
  }
}

}  // namespace switchboard::registry
