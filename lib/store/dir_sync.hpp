// Group commit for directory fsyncs (issue 13; PROTOCOLS §5). A rename, create or unlink in a
// directory is durable once an fsync(2) of that directory that *began after it* has completed.
// When many threads change the same directory at about the same moment (jobs filed into done/
// together, the first outputs of many jobs made in outputs/), one such fsync serves them all: each
// caller waits for the next fsync to begin after its call (running it itself when none is under
// way) instead of issuing its own.
//
// Contract of sync(): it returns no error only when an fsync of the directory that began after
// sync() was called has completed without error — exactly the guarantee of store::fsync_dir()
// called at that moment, so every change the caller made in the directory before the call is
// durable. It returns an error when any fsync it could rely on failed (then nothing is known
// durable: the caller treats it as fsync_dir()'s failure). It blocks: call it off the event loop.
// A file system that cannot fsync directories (EINVAL) counts as success, as in fsync_dir().
//
// Threads: any number of threads may call sync() on one dir_syncer at once; it is the point.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <system_error>

namespace briefd::store {

class dir_syncer {
  public:
    /// How one fsync of the directory is done: store::fsync_dir by default (opened by path for
    /// each fsync, so a dir_syncer holds no descriptor). Tests wrap it to watch the order.
    using fsync_fn = std::function<std::error_code(const std::filesystem::path&)>;

    explicit dir_syncer(std::filesystem::path dir, fsync_fn fsync = {});
    dir_syncer(const dir_syncer&) = delete;
    dir_syncer& operator=(const dir_syncer&) = delete;

    /// Blocks until an fsync of the directory that began after this call has completed; returns
    /// its error, or that of any later fsync the caller was woken by (see the file comment).
    std::error_code sync();

    /// The process-wide dir_syncer of `dir` (keyed by its lexically normal path), made on first
    /// use and kept for the life of the process: everyone who syncs a directory through it shares
    /// its fsyncs. Thread-safe.
    static dir_syncer& of(const std::filesystem::path& dir);

    const std::filesystem::path& dir() const noexcept { return dir_; }
    /// fsyncs begun so far, and sync() calls served (for tests and the benchmark).
    std::uint64_t fsyncs() const;
    std::uint64_t calls() const;

  private:
    const std::filesystem::path dir_;
    const fsync_fn fsync_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool running_ = false;
    std::uint64_t started_ = 0;    ///< fsyncs begun (the running one included)
    std::uint64_t finished_ = 0;   ///< fsyncs completed: 1 … finished_
    std::uint64_t failed_at_ = 0;  ///< the newest fsync that failed (0: none)
    std::error_code failure_;      ///< its error
    std::uint64_t calls_ = 0;
};

}  // namespace briefd::store
