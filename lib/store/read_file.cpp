#include "store/read_file.hpp"

#include "core/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace briefd::store {
namespace {

std::string_view kind_of(mode_t m) noexcept {
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::pair<std::error_code, std::string> read_regular_file(const std::filesystem::path& path,
                                                          std::size_t limit, std::string& why) {
    const auto sys = [&](int e) {
        why = std::error_code(e, std::system_category()).message();
        return std::pair{std::error_code(e, std::system_category()), std::string()};
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ELOOP) {  // O_NOFOLLOW on a symlink
            why = "is a symbolic link; briefd never follows links — drop the file itself";
            return {errc::brief_not_regular, {}};
        }
        if (e == ENXIO) {  // a socket (or a FIFO without a writer on some systems)
            why = "is a socket or a special file, not a regular file";
            return {errc::brief_not_regular, {}};
        }
        return sys(e);
    }
    fd_guard guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys(errno);
    if (!S_ISREG(st.st_mode)) {
        why = "is " + std::string(kind_of(st.st_mode)) + ", not a regular file";
        return {errc::brief_not_regular, {}};
    }
    const auto too_large = [&] {
        why = "is larger than the limit of " + std::to_string(limit) + " bytes";
        return std::pair{std::error_code(errc::brief_too_large), std::string()};
    };
    if (static_cast<std::uint64_t>(st.st_size) > limit) return too_large();
    std::string data;
    data.reserve(static_cast<std::size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys(errno);
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > limit) return too_large();  // it grew after the fstat
    }
    return {std::error_code{}, std::move(data)};
}

bool unreadable_for_good(std::error_code ec) noexcept {
    if (!ec) return false;
    if (ec == errc::brief_not_regular || ec == errc::brief_too_large) return true;
    if (ec.category() != std::system_category()) return false;
    switch (ec.value()) {
        case ENOENT:  // gone: nothing left to refuse
        case EIO:
        case EINTR:
        case EAGAIN:
        case EMFILE:
        case ENFILE:
        case ENOMEM:
        case ENOBUFS:
            return false;
        default:
            return true;  // EACCES, EPERM, ENAMETOOLONG, EISDIR…: the file's own problem
    }
}

}  // namespace briefd::store
