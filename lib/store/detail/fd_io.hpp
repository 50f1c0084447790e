// Small POSIX helpers shared by the store's writers (atomic_file.cpp, spare_inodes.cpp): each
// retries EINTR and reports errno as a std::error_code. Internal to lib/store.
#pragma once

#include <limits.h>  // NAME_MAX
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace briefd::store::detail {

inline std::error_code errno_code(int e = errno) noexcept {
    return {e, std::system_category()};
}

/// A single path component we may create: not empty, not "." or "..", no '/' or NUL, fits NAME_MAX.
inline bool is_plain_name(std::string_view name) noexcept {
    return !name.empty() && name != "." && name != ".." && name.size() <= NAME_MAX &&
           name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

/// All of `data` written at the file offset; EIO if write(2) makes no progress (it never returns 0
/// for a non-empty regular-file write).
inline std::error_code write_all(int fd, std::string_view data) noexcept {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_code();
        }
        if (n == 0) return errno_code(EIO);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

/// fsync(2). For a directory (`dir`), EINVAL — a file system that cannot fsync directories —
/// counts as done: there is nothing more to do there.
inline std::error_code fsync_fd(int fd, bool dir = false) noexcept {
    while (::fsync(fd) != 0) {
        if (errno == EINTR) continue;
        if (dir && errno == EINVAL) return {};
        return errno_code();
    }
    return {};
}

/// `fn(i)` for i in [0, n) from up to `threads` threads, joined before it returns (a journaling
/// file system commits concurrent fsyncs together, where one after another each waits for its
/// own commit).
template <class F>
void for_each_parallel(std::size_t n, unsigned threads, F fn) {
    const auto t = static_cast<std::size_t>(std::clamp<unsigned>(threads, 1, 64));
    if (t <= 1 || n <= 1) {
        for (std::size_t i = 0; i < n; ++i) fn(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::vector<std::jthread> pool;
    for (std::size_t k = 0; k < std::min(t, n); ++k)
        pool.emplace_back([&] {
            for (std::size_t i; (i = next.fetch_add(1)) < n;) fn(i);
        });
}

}  // namespace briefd::store::detail
