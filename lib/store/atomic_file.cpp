#include "store/atomic_file.hpp"

#include "store/detail/fd_io.hpp"
#include "store/dir_sync.hpp"

#include <fcntl.h>
#include <limits.h>  // NAME_MAX
#include <openssl/evp.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc ≥ 2.28)
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

namespace briefd::store {
namespace {

namespace fs = std::filesystem;

using detail::errno_code;
using detail::fsync_fd;
using detail::is_plain_name;
using detail::write_all;

fs::path dir_of(const fs::path& p) {
    auto d = p.parent_path();
    return d.empty() ? fs::path(".") : d;
}

/// Closes on scope exit unless released; close errors on this path are already-failed cleanup.
class fd_guard {
  public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    /// close(2) with its result: on NFS and some others, close is where a deferred write error
    /// shows up.
    std::error_code close() noexcept {
        int fd = std::exchange(fd_, -1);
        return ::close(fd) == 0 ? std::error_code{} : errno_code();
    }

  private:
    int fd_;
};

/// Unique enough within a process (counter) and across processes (pid, clock); O_EXCL settles the
/// rest.
std::string temp_name_for(std::string_view target_name) {
    static std::atomic<std::uint64_t> counter{0};
    auto n = counter.fetch_add(1, std::memory_order_relaxed);
    auto t =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return "." + std::string(target_name) + "." + std::to_string(::getpid()) + "-" +
           std::to_string(n) + "-" + std::to_string(t % 1000000007ULL) + ".tmp";
}

std::string to_hex(const unsigned char* p, unsigned int n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (unsigned int i = 0; i < n; ++i) {
        s.push_back(digits[p[i] >> 4]);
        s.push_back(digits[p[i] & 0xf]);
    }
    return s;
}

EVP_MD_CTX* new_sha256_ctx() {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

std::error_code fsync_dir_fd(int fd) noexcept {
    auto ec = fsync_fd(fd);
    if (ec == std::errc::invalid_argument) ec.clear();  // cannot fsync directories here
    return ec;
}

/// The directory holding `p`, opened (following symlinks: the path-based API trusts its caller).
std::pair<std::error_code, std::shared_ptr<detail::dir_handle>> open_parent(const fs::path& p) {
    auto h = std::make_shared<detail::dir_handle>();
    h->path = dir_of(p);
    h->fd = ::open(h->path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (h->fd < 0) return {errno_code(), nullptr};
    return {std::error_code{}, std::move(h)};
}

/// write_file_atomic inside an open directory.
std::error_code write_file_atomic_at(int dir_fd, std::string_view name, std::string_view data,
                                     mode_t mode) {
    std::string tmp;
    int fd = -1;
    // O_EXCL makes a clash with a concurrent writer (or a stale temp of the same name) a retry,
    // never a share.
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
        tmp = temp_name_for(name);
        fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                      mode);
        if (fd < 0 && errno != EEXIST) return errno_code();
    }
    if (fd < 0) return errno_code(EEXIST);

    fd_guard g(fd);
    auto fail = [&](std::error_code ec) {
        if (g.get() >= 0) (void)g.close();
        ::unlinkat(dir_fd, tmp.c_str(), 0);
        return ec;
    };
    if (::fchmod(fd, mode) != 0) return fail(errno_code());
    if (auto ec = write_all(fd, data)) return fail(ec);
    if (auto ec = fsync_fd(fd)) return fail(ec);
    if (auto ec = g.close()) return fail(ec);
    const std::string target(name);
    if (::renameat(dir_fd, tmp.c_str(), dir_fd, target.c_str()) != 0) return fail(errno_code());
    return fsync_dir_fd(dir_fd);
}

/// Write-back is started in windows of this size while a part_file grows (sync_file_range).
constexpr std::uint64_t writeback_window = 2u << 20;
/// Windows in flight before the oldest is waited for and dropped: enough for the disk to keep
/// busy, few enough to stay far below the dirty-page limits (here 5 x 2 MiB per download).
constexpr std::uint64_t writeback_lag = 4;

}  // namespace

detail::dir_handle::~dir_handle() {
    if (fd >= 0) ::close(fd);
}

void detail::digest_deleter::operator()(void* ctx) const noexcept {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx));
}

std::error_code check_room(const fs::path& dir, std::uint64_t bytes, std::uint64_t files) {
    struct statvfs st {};
    while (::statvfs(dir.c_str(), &st) != 0) {
        if (errno != EINTR) return errno_code();
    }
    const auto block = static_cast<std::uint64_t>(st.f_frsize ? st.f_frsize : st.f_bsize);
    if (static_cast<std::uint64_t>(st.f_bavail) * block < bytes) return errno_code(ENOSPC);
    // f_files == 0: a file system without an inode count (btrfs, some FUSE) — not a limit.
    if (st.f_files > 0 && static_cast<std::uint64_t>(st.f_favail) < files)
        return errno_code(ENOSPC);
    return {};
}

std::error_code fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    fd_guard g(fd);
    return fsync_dir_fd(fd);
}

namespace {
/// Creates the temp file of `target` (its name in `tmp`); -1 with errno set on failure.
int open_temp(const fs::path& target, mode_t mode, fs::path& tmp) {
    const fs::path dir = dir_of(target);
    // O_EXCL makes a clash with a concurrent writer (or a stale temp of the same name) a retry,
    // never a share.
    for (int attempt = 0; attempt < 16; ++attempt) {
        tmp = dir / temp_name_for(target.filename().string());
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}
}  // namespace

std::error_code write_file_atomic(const fs::path& target, std::string_view data, mode_t mode) {
    auto [ec, dir] = open_parent(target);
    if (ec) return ec;
    const std::string name = target.filename().string();
    if (!is_plain_name(name)) return errno_code(EINVAL);
    return write_file_atomic_at(dir->fd, name, data, mode);
}

std::error_code rename_noreplace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno != EINVAL && errno != ENOSYS) return errno_code();
    // No RENAME_NOREPLACE here (some network/FUSE file systems): link() refuses an existing name
    // too.
    if (::link(from.c_str(), to.c_str()) != 0) return errno_code();
    if (::unlink(from.c_str()) != 0) {
        auto ec = errno_code();
        ::unlink(to.c_str());
        return ec;
    }
    return {};
}

std::error_code durable_rename(const fs::path& from, const fs::path& to, bool no_replace) {
    if (no_replace) {
        if (auto ec = rename_noreplace(from, to)) return ec;
    } else if (::rename(from.c_str(), to.c_str()) != 0) {
        return errno_code();
    }
    const fs::path to_dir = dir_of(to);
    const fs::path from_dir = dir_of(from);
    if (auto ec = fsync_dir(to_dir)) return ec;
    std::error_code eq_ec;
    if (!fs::equivalent(to_dir, from_dir, eq_ec)) return fsync_dir(from_dir);
    return {};
}

std::size_t remove_stale_temps(const fs::path& dir, std::error_code& ec) {
    ec.clear();
    std::size_t removed = 0;
    fs::directory_iterator it(dir, ec);
    if (ec) return 0;
    for (; it != fs::directory_iterator{}; it.increment(ec)) {
        if (ec) return removed;
        const std::string name = it->path().filename().string();
        const bool temp = name.size() > 5 && name.front() == '.' && name.ends_with(".tmp");
        const bool part = name.size() > 5 && name.ends_with(".part");
        if (!temp && !part) continue;
        std::error_code st_ec;
        if (it->is_directory(st_ec) && !it->is_symlink(st_ec)) continue;
        if (::unlink(it->path().c_str()) == 0) {
            ++removed;
        } else if (errno != ENOENT && !ec) {
            ec = errno_code();
        }
    }
    if (removed > 0) {
        if (auto sync_ec = fsync_dir(dir); sync_ec && !ec) ec = sync_ec;
    }
    return removed;
}

// --- part_file
// ---------------------------------------------------------------------------------------

std::pair<std::error_code, part_file> part_file::create(const fs::path& final_path, mode_t mode) {
    const std::string name = final_path.filename().string();
    if (!is_plain_name(name)) return {errno_code(EINVAL), part_file{}};
    auto [ec, dir] = open_parent(final_path);
    if (ec) return {ec, part_file{}};
    return create_at(std::move(dir), name + ".part", name, mode);
}

std::pair<std::error_code, part_file> part_file::create_at(
    std::shared_ptr<const detail::dir_handle> dir, std::string part_name, std::string final_name,
    mode_t mode) {
    if (!is_plain_name(part_name) || !is_plain_name(final_name))
        return {errno_code(EINVAL), part_file{}};
    // A .part left by a crashed run is never resumed: the download restarts from byte zero.
    if (::unlinkat(dir->fd, part_name.c_str(), 0) != 0 && errno != ENOENT)
        return {errno_code(), part_file{}};
    part_file p;
    p.digest_.reset(new_sha256_ctx());
    if (!p.digest_) return {errno_code(ENOMEM), part_file{}};
    // O_EXCL: if someone else created the name since the unlink, fail rather than write into their
    // file (O_EXCL also refuses a symlink planted there).
    int fd = ::openat(dir->fd, part_name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return {errno_code(), part_file{}};
    p.fd_ = fd;
    p.final_ = dir->path / final_name;
    p.part_ = dir->path / part_name;
    p.dir_ = std::move(dir);
    p.part_name_ = std::move(part_name);
    p.final_name_ = std::move(final_name);
    if (::fchmod(fd, mode) != 0) {
        auto ec = errno_code();
        p.discard();
        return {ec, part_file{}};
    }
    return {std::error_code{}, std::move(p)};
}

part_file::part_file(part_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      dir_(std::move(other.dir_)),
      part_name_(std::exchange(other.part_name_, {})),
      final_name_(std::move(other.final_name_)),
      final_(std::move(other.final_)),
      part_(std::move(other.part_)),
      digest_(std::move(other.digest_)),
      bytes_(std::exchange(other.bytes_, 0)),
      writeback_from_(std::exchange(other.writeback_from_, 0)) {}

part_file& part_file::operator=(part_file&& other) noexcept {
    if (this != &other) {
        discard();
        fd_ = std::exchange(other.fd_, -1);
        dir_ = std::move(other.dir_);
        part_name_ = std::exchange(other.part_name_, {});
        final_name_ = std::move(other.final_name_);
        final_ = std::move(other.final_);
        part_ = std::move(other.part_);
        digest_ = std::move(other.digest_);
        bytes_ = std::exchange(other.bytes_, 0);
        writeback_from_ = std::exchange(other.writeback_from_, 0);
    }
    return *this;
}

part_file::~part_file() {
    discard();
}

std::error_code part_file::write(std::string_view data) {
    if (fd_ < 0) return errno_code(EBADF);
    auto* ctx = static_cast<EVP_MD_CTX*>(digest_.get());
    // Hash only what reached the file, so sha256_hex() always describes the .part's contents.
    while (!data.empty()) {
        ssize_t n = ::write(fd_, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_code();
        }
        if (n == 0) return errno_code(EIO);
        auto done = static_cast<std::size_t>(n);
        EVP_DigestUpdate(ctx, data.data(), done);
        bytes_ += done;
        data.remove_prefix(done);
    }
    // Write-behind (see the class comment): start write-back of each full window at once, so the
    // disk works while the network does; then wait for the window `writeback_lag` windows back
    // (long since submitted, usually done) and drop it from the page cache. Advisory calls: an
    // error here (a file system without them) leaves the work to fsync, which reports real
    // failures.
    while (bytes_ - writeback_from_ >= writeback_window) {
        (void)::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                                static_cast<off_t>(writeback_window), SYNC_FILE_RANGE_WRITE);
        writeback_from_ += writeback_window;
        if (writeback_from_ >= (writeback_lag + 1) * writeback_window) {
            const auto old =
                static_cast<off_t>(writeback_from_ - (writeback_lag + 1) * writeback_window);
            const auto len = static_cast<off_t>(writeback_window);
            (void)::sync_file_range(
                fd_, old, len,
                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            (void)::posix_fadvise(fd_, old, len, POSIX_FADV_DONTNEED);
        }
    }
    return {};
}

std::error_code part_file::reserve(std::uint64_t total) {
    if (fd_ < 0) return errno_code(EBADF);
    if (total <= bytes_) return {};
    while (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(bytes_),
                       static_cast<off_t>(total - bytes_)) != 0) {
        if (errno == EINTR) continue;
        if (errno == EOPNOTSUPP || errno == ENOSYS) return {};  // tmpfs of old, FUSE, NFSv3…
        return errno_code();
    }
    return {};
}

std::string part_file::sha256_hex() const {
    if (!digest_) return {};
    // Finalise a copy so the running digest can keep going.
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(),
                                                                 &EVP_MD_CTX_free);
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), static_cast<EVP_MD_CTX*>(digest_.get())) != 1)
        return {};
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(copy.get(), md.data(), &len) != 1) return {};
    return to_hex(md.data(), len);
}

std::error_code part_file::commit() {
    return commit_as(final_name_);
}

std::error_code part_file::commit_as(const std::string& final_name, bool sync_dir) {
    if (fd_ < 0) return errno_code(EBADF);
    auto fail = [&](std::error_code ec) {
        discard();
        return ec;
    };
    if (auto ec = fsync_fd(fd_)) return fail(ec);
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) return fail(errno_code());
    if (::renameat(dir_->fd, part_name_.c_str(), dir_->fd, final_name.c_str()) != 0)
        return fail(errno_code());
    part_name_.clear();  // nothing left to discard: the bytes now live under the final name
    final_name_ = final_name;
    final_ = dir_->path / final_name;
    return sync_dir ? fsync_dir_fd(dir_->fd) : std::error_code{};
}

void part_file::discard() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!part_name_.empty()) {
        ::unlinkat(dir_->fd, part_name_.c_str(), 0);
        part_name_.clear();
    }
}

// --- output_dir
// ------------------------------------------------------------------------------------------

namespace {
/// `dir` (one plain component under its parent, which is created if missing) opened without
/// following a symlink, created with exactly `mode` first if missing; when created here, its
/// parent is fsynced before this returns (through `parent_sync` when given: grouped). Returns the
/// directory's fd. An existing directory costs two opens: no mkdir, no stat.
std::pair<std::error_code, int> open_or_make_dir(const fs::path& dir, mode_t mode,
                                                 dir_syncer* parent_sync = nullptr) {
    const std::string name = dir.filename().string();
    if (!is_plain_name(name)) return {errno_code(EINVAL), -1};
    const fs::path parent = dir_of(dir);
    int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0 && errno == ENOENT) {
        std::error_code ec;
        fs::create_directories(parent, ec);
        if (ec) return {ec, -1};
        pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (pfd < 0) return {errno_code(), -1};
    fd_guard parent_fd(pfd);
    // O_NOFOLLOW|O_DIRECTORY refuses a symlink (ENOTDIR) or a file at `name`; only a name that
    // is not there at all (ENOENT) is made.
    constexpr int dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    if (int existing = ::openat(parent_fd.get(), name.c_str(), dir_flags); existing >= 0)
        return {std::error_code{}, existing};
    if (errno != ENOENT) return {errno_code(), -1};
    // mkdirat never follows a symlink at `name` (EEXIST), and the open below refuses one.
    bool created = false;
    if (::mkdirat(parent_fd.get(), name.c_str(), mode) == 0)
        created = true;
    else if (errno != EEXIST)  // made by someone else meanwhile: they make it durable
        return {errno_code(), -1};
    fd_guard fd(::openat(parent_fd.get(), name.c_str(), dir_flags));
    if (fd.get() < 0) return {errno_code(), -1};
    if (created) {
        if (::fchmod(fd.get(), mode) != 0) return {errno_code(), -1};  // umask aside
        const bool grouped =
            parent_sync && parent_sync->dir() == parent.lexically_normal().string();
        if (auto sec = grouped ? parent_sync->sync() : fsync_dir_fd(parent_fd.get()))
            return {sec, -1};
    }
    return {std::error_code{}, fd.release()};
}
}  // namespace

std::error_code make_dir_durable(const fs::path& dir, mode_t mode) {
    auto [ec, fd] = open_or_make_dir(dir, mode);
    if (fd >= 0) ::close(fd);
    return ec;
}

std::pair<std::error_code, output_dir> output_dir::open(const fs::path& dir, mode_t mode) {
    auto [ec, fd] = open_or_make_dir(dir, mode);
    return adopt(ec, fd, dir);
}

std::pair<std::error_code, output_dir> output_dir::open(const fs::path& dir,
                                                        dir_syncer& parent_sync, mode_t mode) {
    auto [ec, fd] = open_or_make_dir(dir, mode, &parent_sync);
    return adopt(ec, fd, dir);
}

std::pair<std::error_code, output_dir> output_dir::adopt(std::error_code ec, int fd,
                                                         const fs::path& dir) {
    if (ec) return {ec, output_dir{}};
    auto h = std::make_shared<detail::dir_handle>();
    h->path = dir;
    h->fd = fd;
    output_dir d;
    d.dir_ = std::move(h);
    return {std::error_code{}, std::move(d)};
}

const fs::path& output_dir::path() const noexcept {
    static const fs::path none;
    return dir_ ? dir_->path : none;
}

std::pair<std::error_code, part_file> output_dir::create_part(std::string_view name,
                                                              mode_t mode) const {
    if (!dir_) return {errno_code(EBADF), part_file{}};
    if (!is_plain_name(name)) return {errno_code(EINVAL), part_file{}};
    return part_file::create_at(dir_, std::string(name) + ".part", std::string(name), mode);
}

std::error_code output_dir::commit(part_file& part, std::string_view final_name) const {
    return commit_here(part, final_name, true);
}

std::error_code output_dir::commit_unsynced(part_file& part, std::string_view final_name) const {
    return commit_here(part, final_name, false);
}

std::error_code output_dir::commit_here(part_file& part, std::string_view final_name,
                                        bool sync_dir) const {
    if (!dir_) return errno_code(EBADF);
    if (!part.is_open()) return errno_code(EBADF);
    if (part.dir_ != dir_) return errno_code(EXDEV);
    if (!is_plain_name(final_name)) {
        part.discard();
        return errno_code(EINVAL);
    }
    return part.commit_as(std::string(final_name), sync_dir);
}

std::error_code output_dir::write_file_atomic(std::string_view name, std::string_view data,
                                              mode_t mode) const {
    if (!dir_) return errno_code(EBADF);
    if (!is_plain_name(name)) return errno_code(EINVAL);
    return write_file_atomic_at(dir_->fd, name, data, mode);
}

// --- hashing
// -------------------------------------------------------------------------------------------

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
        return {};
    return to_hex(md.data(), len);
}

std::pair<std::error_code, std::string> sha256_file(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {errno_code(), {}};
    fd_guard g(fd);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(new_sha256_ctx(), &EVP_MD_CTX_free);
    if (!ctx) return {errno_code(ENOMEM), {}};
    std::array<char, 64 * 1024> buf{};
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return {errno_code(), {}};
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1) return {errno_code(EIO), {}};
    return {std::error_code{}, to_hex(md.data(), len)};
}

}  // namespace briefd::store
