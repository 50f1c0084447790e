// Spare inodes for files that are replaced and removed again and again in one directory, e.g.
// the job-state files of active/ (DESIGN §8; issue 13).
//
// Why: on ext4 without a journal the inode allocator skips every inode of the block group freed
// in the last minutes (recently_deleted()), reading the inode table for each, on every create; a
// daemon that frees an inode per write turns each later create in that group into a long scan.
// A spare_pool frees none while it is below its cap: a replaced file's old inode is kept under a
// hidden name (".spare.<n>") by renameat2(RENAME_EXCHANGE), a removed file is renamed to a spare
// name instead of being unlinked, and the next write takes a spare instead of creating a file.
//
// Durability contract (the same as write_file_atomic()'s for targets): each target is, after a
// crash at any point, its old or its new complete content, never a mix; a change reported with
// no error is durable (its directory fsynced after its rename). A spare's inode is reused, and
// truncated, only once the directory fsync that took it off its target has succeeded: a crash
// can never leave a target naming an inode that is being rewritten as a spare.
//
// Spares are empty regular files named ".spare.<digits>" in the directory: hidden, so the spool
// and recovery never read one as a state file or a brief (they skip names starting with "."),
// and not "*.tmp" or "*.part", so remove_stale_temps() leaves them alone.
//
// Threads: not thread-safe; one thread uses a pool (the state writer's worker).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace briefd::store {

/// One change for spare_pool::commit(): the whole new content of dir/`name`, or its removal.
struct file_change {
    std::string name;  ///< a single path component in the pool's directory
    std::string data;
    bool remove = false;
    mode_t mode = 0640;
};

class spare_pool {
  public:
    /// A pool for the files of `dir`, keeping at most `cap` spares (0: none — every change then
    /// frees inodes as write_file_atomic() does). Touches nothing yet: `dir` may not exist.
    spare_pool(std::filesystem::path dir, std::size_t cap);
    /// Closes the directory. Spares stay on disk (trim(0) first gives them back); the next
    /// pool's open() adopts them.
    ~spare_pool();
    spare_pool(const spare_pool&) = delete;
    spare_pool& operator=(const spare_pool&) = delete;

    /// Opens the directory (once; later calls return at once) and adopts what an earlier process
    /// left: each ".spare.<n>" regular file is truncated and pooled, or unlinked beyond the cap.
    /// A spare that names the same inode as another entry of the directory (a rename a power
    /// loss cut in half) is left untouched: dropping its name could free the inode the other
    /// entry still names. No fsync: spares need not be durable, an unlinked one that comes back
    /// after a crash is adopted again. The commit()/trim() below call it first.
    std::error_code open();

    /// Applies `changes` (distinct names) as one group. Every new content goes into a spare (or
    /// into a new spare file when the pool is empty), all of them are fsynced together from up
    /// to `parallel` threads, then each is renamed over its target — with RENAME_EXCHANGE when
    /// the target exists, so the spare's name keeps the old inode — and each removed target is
    /// renamed to a new spare name (unlinked when the pool is full). Then ONE fsync of the
    /// directory for the whole group; only after it succeeded do the spares that came back get
    /// truncated and pooled (on failure they wait for the next successful fsync). Blocks: call it
    /// off the event loop. Result i is changes[i]'s: an error before its rename leaves the target
    /// untouched; a failed directory fsync fails every change that renamed or removed (the new
    /// state is in place but not known to be durable). A removal of a missing file succeeds
    /// once the directory fsync does (an earlier removal may not have been made durable).
    std::vector<std::error_code> commit(std::span<const file_change> changes,
                                        unsigned parallel = 8);

    /// Unlinks pooled spares until at most `keep` remain, then fsyncs the directory (also making
    /// durable any spares still waiting for a successful fsync, which are then pooled or
    /// unlinked too). For an idle daemon giving its inodes back, and a clean stop (keep 0).
    /// Returns how many were unlinked; `ec` is the first error.
    std::size_t trim(std::size_t keep, std::error_code& ec);

    /// Spares ready for reuse.
    std::size_t size() const noexcept { return pool_.size(); }
    std::size_t cap() const noexcept { return cap_; }
    /// For the benchmark and tests: inodes unlinked (the pool full, or trimmed); inodes that
    /// went into the pool (a replaced or removed file's, a failed write's spare, a leftover);
    /// files created because the pool was empty.
    std::uint64_t freed() const noexcept { return freed_; }
    std::uint64_t recycled() const noexcept { return recycled_; }
    std::uint64_t created() const noexcept { return created_; }

    /// Whether `name` is a spare's name: ".spare." then 1-20 digits.
    static bool is_spare_name(std::string_view name) noexcept;

  private:
    struct taken {
        std::string name;
        int fd = -1;
    };
    std::error_code take(mode_t mode, taken& out);
    std::string fresh_name();
    void settle(std::vector<std::string>& names);
    void drop(const std::string& name);

    std::filesystem::path dir_;
    std::size_t cap_;
    int dfd_ = -1;
    std::uint64_t next_ = 0;              ///< the number of the next fresh spare name
    std::vector<std::string> pool_;       ///< settled, empty spares (taken last-in first-out)
    std::vector<std::string> unsettled_;  ///< spares whose directory fsync failed
    std::uint64_t freed_ = 0, recycled_ = 0, created_ = 0;
    bool exchange_ok_ = true;  ///< cleared once the file system refuses it
};

}  // namespace briefd::store
