// Files that survive crashes (DESIGN §5, §8; PROTOCOLS §5): whole files replaced atomically,
// durable renames, and streamed downloads that appear under their final name only once complete and
// fsynced.
//
// Every function reports failure as a std::error_code (a std::system_category errno) and leaves the
// final name untouched on failure: a reader sees the old file or the new one, never a half-written
// one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace briefd::store {

/// Replaces `target` with `data`: a temp file in the same directory (".<name>.<random>.tmp", so the
/// spool ignores it; O_CREAT|O_EXCL|O_CLOEXEC), write all (EINTR and short writes handled), fsync,
/// close, rename over `target`, fsync the directory. The file gets exactly `mode` (umask does not
/// apply). On any error (ENOSPC, EACCES, EROFS, EIO…) the temp is removed, `target` is untouched,
/// and the error is returned.
std::error_code write_file_atomic(const std::filesystem::path& target, std::string_view data,
                                  mode_t mode = 0640);

/// Makes the directory `dir` (its parent created first if missing) with exactly `mode`, durably:
/// when it is created here its parent is fsynced before this returns, so a file renamed into it
/// and fsynced there afterwards survives a crash. An existing directory is success with no fsync
/// (whoever made it made it durable); a symlink or a file at `dir` is ENOTDIR, a `dir` whose last
/// component is not a plain name EINVAL. Blocks for an fsync when it creates: off the event loop.
std::error_code make_dir_durable(const std::filesystem::path& dir, mode_t mode = 0750);

/// fsync(2) of a directory, which makes creates/renames/unlinks inside it durable. A file system
/// that cannot fsync directories (EINVAL) counts as success: there is nothing more we could do.
std::error_code fsync_dir(const std::filesystem::path& dir);

/// Whether the file system holding `dir` has room for `files` more files of up to `bytes` in all
/// (statvfs: blocks and inodes available to unprivileged users). ENOSPC when it has not (EDQUOT
/// is not seen here: quotas are per user); statvfs's own error when it fails. For work that
/// must not start unless its first writes can succeed, e.g. claims whose state is written later.
std::error_code check_room(const std::filesystem::path& dir, std::uint64_t bytes,
                           std::uint64_t files);

/// rename(2) then fsync of the destination directory and, if different, the source directory.
/// With no_replace=true the rename is renameat2(RENAME_NOREPLACE) — it fails with EEXIST instead of
/// replacing, and if the source is gone it fails with ENOENT (checked first by the kernel). On file
/// systems without RENAME_NOREPLACE it falls back to link()+unlink(), which has the same no-replace
/// guarantee.
std::error_code durable_rename(const std::filesystem::path& from, const std::filesystem::path& to,
                               bool no_replace);

/// The rename of durable_rename(…, true) without its fsyncs, for renames whose directory fsyncs
/// the caller groups (a dir_syncer, dir_sync.hpp): never replaces (EEXIST), ENOENT when the
/// source is gone.
std::error_code rename_noreplace(const std::filesystem::path& from,
                                 const std::filesystem::path& to);

/// Removes leftover temp files (".*.tmp") and "*.part" files in `dir` (not recursive; never
/// directories). Call at start-up, before anything writes into `dir`. Returns how many were
/// removed; `ec` is the first error.
std::size_t remove_stale_temps(const std::filesystem::path& dir, std::error_code& ec);

namespace detail {
struct digest_deleter {
    void operator()(void* ctx) const noexcept;
};
/// An open directory (fd + the path it was opened as, for messages and path accessors), shared by
/// an output_dir and the part_files it created: they need it for renameat/unlinkat, even after the
/// output_dir itself is gone.
struct dir_handle {
    int fd = -1;
    std::filesystem::path path;
    dir_handle() = default;
    dir_handle(const dir_handle&) = delete;
    dir_handle& operator=(const dir_handle&) = delete;
    ~dir_handle();
};
}  // namespace detail

class output_dir;
class dir_syncer;

/// A streaming writer for downloads: bytes go to `<final>.part` with a running SHA-256 and byte
/// count; commit() makes them appear under the final name atomically and durably. Without commit()
/// (error, cancellation, size limit) the destructor removes the .part, so no partial file is ever
/// left behind by a live process (and remove_stale_temps cleans up after a dead one). Movable, not
/// copyable.
///
/// Built for multi-GB files at line rate: write() is one write(2) per call (give it large pieces,
/// ~1 MiB) and hashes the same block. Write-behind in small windows: each full window's write-back
/// is started at once (sync_file_range SYNC_FILE_RANGE_WRITE), the window before it is waited for
/// and dropped from the page cache (POSIX_FADV_DONTNEED). So the file never holds more than two
/// windows of dirty or cached pages: write(2) is never throttled for a pile of dirty pages, new
/// pages are recycled ones (fresh memory costs far more to fill, on VMs most), and commit()'s fsync
/// only waits for the tail. The page cache keeps none of the file afterwards.
class part_file {
  public:
    /// Opens `<final_path>.part` with O_CREAT|O_EXCL, after removing a stale one from an earlier
    /// run. On error the returned part_file is empty (every operation on it fails with EBADF).
    static std::pair<std::error_code, part_file> create(const std::filesystem::path& final_path,
                                                        mode_t mode = 0640);

    /// An empty part_file (what a failed create returns): every operation fails with EBADF.
    part_file() = default;
    part_file(part_file&& other) noexcept;
    part_file& operator=(part_file&& other) noexcept;
    part_file(const part_file&) = delete;
    part_file& operator=(const part_file&) = delete;
    ~part_file();

    /// Appends all of `bytes` (EINTR and short writes handled). On error the .part is kept until
    /// discard() or destruction, so the caller decides; nothing under the final name changes.
    std::error_code write(std::string_view bytes);
    /// Preallocates `total` bytes (fallocate FALLOC_FL_KEEP_SIZE: the size still grows with the
    /// writes) when the final length is known, e.g. from Content-Length: fewer extents, and ENOSPC
    /// at once instead of after gigabytes. File systems without fallocate are not an error.
    std::error_code reserve(std::uint64_t total);
    /// Bytes written so far.
    std::uint64_t bytes() const noexcept { return bytes_; }
    /// Lower-case hex SHA-256 of everything written so far (can be called at any time, before or
    /// after commit).
    std::string sha256_hex() const;
    /// fsync, close, rename `.part` over the final name, fsync the directory. On error the .part is
    /// removed.
    std::error_code commit();
    /// Closes and removes the .part (no-op after commit or on an empty part_file).
    void discard() noexcept;

    bool is_open() const noexcept { return fd_ >= 0; }
    const std::filesystem::path& final_path() const noexcept { return final_; }
    const std::filesystem::path& part_path() const noexcept { return part_; }

  private:
    friend class output_dir;
    /// Creates `part_name` in `dir` (removing a stale one first); commit() renames it to
    /// `final_name` in the same directory.
    static std::pair<std::error_code, part_file> create_at(
        std::shared_ptr<const detail::dir_handle> dir, std::string part_name,
        std::string final_name, mode_t mode);
    std::error_code commit_as(const std::string& final_name, bool sync_dir = true);

    int fd_ = -1;
    std::shared_ptr<const detail::dir_handle> dir_;
    std::string part_name_;   // inside dir_
    std::string final_name_;  // inside dir_
    std::filesystem::path final_;
    std::filesystem::path part_;
    std::unique_ptr<void, detail::digest_deleter>
        digest_;  // EVP_MD_CTX, kept opaque to spare includers <openssl/evp.h>
    std::uint64_t bytes_ = 0;
    std::uint64_t writeback_from_ = 0;  // bytes before this offset have had write-back started
};

/// A job's output directory, opened once and never re-resolved: everything in it is created,
/// renamed and fsynced relative to its file descriptor (openat, renameat, fsync of the fd), so a
/// symlink or another directory planted at its path later cannot redirect a single byte outside.
/// Names given to its functions are single path components: "", ".", "..", anything with '/' or
/// NUL, or longer than NAME_MAX is refused with EINVAL. Movable, not copyable.
class output_dir {
  public:
    /// Opens `dir`, creating it (with `mode`, then fsync of its parent) when missing; its parent is
    /// created too when missing (that is the operator's outputs/). The last component is opened
    /// with O_NOFOLLOW|O_DIRECTORY: a symlink there (even one to a directory) is refused with
    /// ENOTDIR (Linux; ELOOP where O_NOFOLLOW wins), and so is a file or other non-directory. On
    /// error the returned output_dir is empty (operations fail with EBADF).
    static std::pair<std::error_code, output_dir> open(const std::filesystem::path& dir,
                                                       mode_t mode = 0750);

    /// A part_file `<name>.part` in this directory (a stale one from an earlier run is removed
    /// first); its commit() renames it to `<name>`, or pass it to commit(part, other_name).
    std::pair<std::error_code, part_file> create_part(std::string_view name,
                                                      mode_t mode = 0640) const;
    /// fsync `part`, close it, rename it to `final_name` here (replacing a file of that name),
    /// fsync this directory. `part` must come from this output_dir (else EXDEV, and it is left
    /// as it was). On error the .part is removed and `final_name` is untouched.
    std::error_code commit(part_file& part, std::string_view final_name) const;
    /// write_file_atomic() of `name` in this directory (temp file, fsync, renameat, fsync dir).
    std::error_code write_file_atomic(std::string_view name, std::string_view data,
                                      mode_t mode = 0640) const;

    /// open() whose fsync of the parent, when it creates `dir`, goes through `parent_sync`
    /// (store/dir_sync.hpp: one fsync shared with every concurrent creator in that parent) when
    /// `parent_sync` syncs `dir`'s parent, else is its own. The same guarantee as open().
    static std::pair<std::error_code, output_dir> open(const std::filesystem::path& dir,
                                                       dir_syncer& parent_sync, mode_t mode = 0750);
    /// commit() without its fsync of this directory: fsync `part`, close it, rename it to
    /// `final_name` here. The file's bytes are durable, but its name only once a later fsync of
    /// this directory completes (e.g. write_file_atomic() here, which renames and then fsyncs):
    /// until then a power cut may leave the directory without it (or with the file it replaced).
    /// For a caller that records the file as saved only where a crash is checked (issue 13:
    /// downloads, whose saved outputs are verified on disk at restart) and makes the directory
    /// durable before anything final depends on it (filing's manifest). Errors as commit().
    std::error_code commit_unsynced(part_file& part, std::string_view final_name) const;

    bool is_open() const noexcept { return dir_ != nullptr; }
    /// The path it was opened as (for messages; never reopened).
    const std::filesystem::path& path() const noexcept;
    /// The directory's file descriptor (owned; valid while this or one of its part_files lives).
    int fd() const noexcept { return dir_ ? dir_->fd : -1; }

  private:
    static std::pair<std::error_code, output_dir> adopt(std::error_code ec, int fd,
                                                        const std::filesystem::path& dir);
    std::error_code commit_here(part_file& part, std::string_view final_name, bool sync_dir) const;
    std::shared_ptr<const detail::dir_handle> dir_;
};

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-256 of a file's contents, read in chunks (never the whole file in memory).
std::pair<std::error_code, std::string> sha256_file(const std::filesystem::path& file);

}  // namespace briefd::store
