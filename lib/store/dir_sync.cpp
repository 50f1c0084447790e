#include "store/dir_sync.hpp"

#include "store/atomic_file.hpp"

#include <map>
#include <memory>
#include <string>

namespace briefd::store {

dir_syncer::dir_syncer(std::filesystem::path dir, fsync_fn fsync)
    : dir_(std::move(dir)), fsync_(fsync ? std::move(fsync) : fsync_fn(&fsync_dir)) {}

std::error_code dir_syncer::sync() {
    std::unique_lock lock(mu_);
    ++calls_;
    // The first fsync that may serve this call is the next one to begin: one under way now may
    // have read the directory before the caller's change.
    const std::uint64_t target = started_ + 1;
    while (finished_ < target) {
        if (running_) {
            cv_.wait(lock);
            continue;
        }
        // None under way: this caller runs the next one, for itself and everyone who arrives
        // while it runs (they wait for the one after, which began after their call).
        running_ = true;
        const std::uint64_t mine = ++started_;
        lock.unlock();
        const auto ec = fsync_(dir_);
        lock.lock();
        running_ = false;
        finished_ = mine;
        if (ec) {
            failed_at_ = mine;
            failure_ = ec;
        }
        cv_.notify_all();
    }
    // Every fsync numbered target … finished_ began after the call; a failure among them means
    // the caller cannot count on its change (a failed fsync may have dropped dirty state).
    return failed_at_ >= target ? failure_ : std::error_code{};
}

std::uint64_t dir_syncer::fsyncs() const {
    std::lock_guard lock(mu_);
    return started_;
}

std::uint64_t dir_syncer::calls() const {
    std::lock_guard lock(mu_);
    return calls_;
}

dir_syncer& dir_syncer::of(const std::filesystem::path& dir) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<dir_syncer>> all;
    auto key = dir.lexically_normal().string();
    if (key.size() > 1 && key.back() == '/') key.pop_back();
    std::lock_guard lock(mu);
    auto& s = all[key];
    if (!s) s = std::make_unique<dir_syncer>(key);
    return *s;
}

}  // namespace briefd::store
