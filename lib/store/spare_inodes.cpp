#include "store/spare_inodes.hpp"

#include "store/detail/fd_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>  // NAME_MAX
#include <stdio.h>   // renameat2, RENAME_EXCHANGE, RENAME_NOREPLACE (glibc ≥ 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <thread>
#include <unordered_set>
#include <utility>

namespace briefd::store {
namespace {

constexpr std::string_view spare_prefix = ".spare.";
/// Fresh names tried before giving up: only files someone else put there can collide.
constexpr int max_name_tries = 64;

using detail::errno_code;
using detail::for_each_parallel;
using detail::fsync_fd;
using detail::is_plain_name;
using detail::write_all;

}  // namespace

bool spare_pool::is_spare_name(std::string_view name) noexcept {
    if (!name.starts_with(spare_prefix)) return false;
    auto digits = name.substr(spare_prefix.size());
    return !digits.empty() && digits.size() <= 20 &&
           digits.find_first_not_of("0123456789") == std::string_view::npos;
}

spare_pool::spare_pool(std::filesystem::path dir, std::size_t cap)
    : dir_(std::move(dir)), cap_(cap) {}

spare_pool::~spare_pool() {
    if (dfd_ >= 0) ::close(dfd_);
}

std::error_code spare_pool::open() {
    if (dfd_ >= 0) return {};
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    dfd_ = fd;
    // Adopt leftovers: one readdir (d_ino tells which spares share an inode with another entry).
    int lfd = ::dup(dfd_);
    if (lfd < 0) return {};  // nothing adopted; fresh names still skip them (O_EXCL)
    DIR* d = ::fdopendir(lfd);
    if (!d) {
        ::close(lfd);
        return {};
    }
    std::vector<std::pair<std::string, ino_t>> found;
    std::unordered_set<ino_t> others;
    while (auto* de = ::readdir(d)) {
        std::string_view n(de->d_name);
        if (n == "." || n == "..") continue;
        if (is_spare_name(n))
            found.emplace_back(std::string(n), de->d_ino);
        else
            others.insert(de->d_ino);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    for (auto& [name, ino] : found) {
        std::uint64_t num = 0;
        auto digits = std::string_view(name).substr(spare_prefix.size());
        std::from_chars(digits.data(), digits.data() + digits.size(), num);
        next_ = std::max(next_, num + 1);
        if (others.count(ino)) continue;  // half a rename: its other name may be the only one
        struct stat st {};
        if (::fstatat(dfd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;  // not ours to touch
        if (pool_.size() >= cap_) {
            if (::unlinkat(dfd_, name.c_str(), 0) == 0) ++freed_;
            continue;
        }
        std::vector<std::string> one{std::move(name)};
        settle(one);
    }
    return {};
}

std::string spare_pool::fresh_name() {
    return std::string(spare_prefix) + std::to_string(next_++);
}

void spare_pool::drop(const std::string& name) {
    if (::unlinkat(dfd_, name.c_str(), 0) == 0) ++freed_;
}

void spare_pool::settle(std::vector<std::string>& names) {
    for (auto& n : names) {
        if (pool_.size() >= cap_) {
            drop(n);
            continue;
        }
        // Truncated now, not when taken: a spare keeps no old content (cheap: it frees blocks,
        // not the inode). O_NOFOLLOW: a symlink planted under a spare's name is never followed.
        int fd = ::openat(dfd_, n.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;  // gone, or not a file we may write: forgotten
        ::close(fd);
        pool_.push_back(std::move(n));
        ++recycled_;
    }
    names.clear();
}

std::error_code spare_pool::take(mode_t mode, taken& out) {
    while (!pool_.empty()) {
        auto name = std::move(pool_.back());
        pool_.pop_back();
        int fd = ::openat(dfd_, name.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;  // removed behind our back: forgotten
        out = {std::move(name), fd};
        return {};
    }
    for (int tries = 0; tries < max_name_tries; ++tries) {
        auto name = fresh_name();
        int fd = ::openat(dfd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          mode);
        if (fd >= 0) {
            ++created_;
            out = {std::move(name), fd};
            return {};
        }
        if (errno != EEXIST) return errno_code();
    }
    return errno_code(EEXIST);
}

std::vector<std::error_code> spare_pool::commit(std::span<const file_change> changes,
                                                unsigned parallel) {
    const std::size_t n = changes.size();
    std::vector<std::error_code> result(n);
    if (auto ec = open()) {
        std::fill(result.begin(), result.end(), ec);
        return result;
    }
    std::vector<taken> files(n);
    // 1. Every new content written into a spare (page cache only: cheap).
    for (std::size_t i = 0; i < n; ++i) {
        const auto& c = changes[i];
        if (!is_plain_name(c.name) || is_spare_name(c.name)) {
            result[i] = errno_code(EINVAL);
            continue;
        }
        if (c.remove) continue;
        if ((result[i] = take(c.mode, files[i]))) continue;
        if (::fchmod(files[i].fd, c.mode) != 0)
            result[i] = errno_code();
        else
            result[i] = write_all(files[i].fd, c.data);
        // A failed write (ENOSPC) gives its blocks back at once, for the rest of the group.
        if (result[i]) (void)::ftruncate(files[i].fd, 0);
    }
    // 2. All fsyncs at once.
    for_each_parallel(n, parallel, [&](std::size_t i) {
        int fd = std::exchange(files[i].fd, -1);
        if (fd < 0) return;
        if (!result[i]) result[i] = fsync_fd(fd);
        if (::close(fd) != 0 && !result[i]) result[i] = errno_code();
    });
    // 3. Renames. `back`: spare names that now hold an inode, pooled after the directory fsync.
    std::vector<std::string> back;
    std::vector<bool> renamed(n, false);  // its result depends on the directory fsync
    for (std::size_t i = 0; i < n; ++i) {
        const auto& c = changes[i];
        if (result[i]) {
            // Never renamed: the spare holds the new content only, and no target names it.
            if (!files[i].name.empty()) back.push_back(std::move(files[i].name));
            continue;
        }
        if (c.remove) {
            bool handled = false;
            if (pool_.size() + back.size() < cap_) {
                for (int tries = 0; tries < max_name_tries; ++tries) {
                    auto spare = fresh_name();
                    if (::renameat2(dfd_, c.name.c_str(), dfd_, spare.c_str(), RENAME_NOREPLACE) ==
                        0) {
                        back.push_back(std::move(spare));
                        handled = renamed[i] = true;
                        break;
                    }
                    if (errno == ENOENT) {
                        // Already gone: removed — durably once the directory is fsynced (an
                        // earlier removal's fsync may have failed).
                        handled = renamed[i] = true;
                        break;
                    }
                    if (errno != EEXIST) break;  // e.g. no RENAME_NOREPLACE here: unlinked
                }
            }
            if (handled) continue;
            if (::unlinkat(dfd_, c.name.c_str(), 0) == 0)
                ++freed_;
            else if (errno != ENOENT)
                result[i] = errno_code();
            renamed[i] = !result[i];
            continue;
        }
        auto& spare = files[i].name;
        if (exchange_ok_) {
            if (::renameat2(dfd_, spare.c_str(), dfd_, c.name.c_str(), RENAME_EXCHANGE) == 0) {
                // The spare's name now holds the old inode.
                back.push_back(std::move(spare));
                renamed[i] = true;
                continue;
            }
            if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
                exchange_ok_ = false;
            else if (errno != ENOENT) {
                result[i] = errno_code();
                back.push_back(std::move(spare));
                continue;
            }
        }
        // No target yet (the spare's name is used up), or no exchange here (the old inode goes).
        if (::renameat(dfd_, spare.c_str(), dfd_, c.name.c_str()) == 0) {
            renamed[i] = true;
        } else {
            result[i] = errno_code();
            back.push_back(std::move(spare));
        }
    }
    // 4. One fsync of the directory for the whole group.
    if (std::find(renamed.begin(), renamed.end(), true) == renamed.end()) {
        settle(back);  // nothing renamed: no spare came off a target
        return result;
    }
    if (auto ec = fsync_fd(dfd_, true)) {
        for (std::size_t i = 0; i < n; ++i)
            if (renamed[i]) result[i] = ec;
        // The renames may not be on disk: a spare may still be a target's inode there.
        for (auto& s : back) unsettled_.push_back(std::move(s));
        return result;
    }
    settle(unsettled_);
    settle(back);
    return result;
}

std::size_t spare_pool::trim(std::size_t keep, std::error_code& ec) {
    ec = open();
    if (ec) return 0;
    std::size_t removed = 0;
    if (!unsettled_.empty()) {
        ec = fsync_fd(dfd_, true);
        if (!ec) settle(unsettled_);
    }
    while (pool_.size() > keep) {
        if (::unlinkat(dfd_, pool_.back().c_str(), 0) == 0) {
            ++removed;
            ++freed_;
        } else if (errno != ENOENT && !ec) {
            ec = errno_code();
        }
        pool_.pop_back();
    }
    if (removed > 0)
        if (auto fec = fsync_fd(dfd_, true); fec && !ec) ec = fec;
    return removed;
}

}  // namespace briefd::store
