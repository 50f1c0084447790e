// A throwaway directory per test (removed on destruction), and a tmpfs mount helper for the
// disk-full / read-only cases. Shared by the store and spool unit tests.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace briefd::test {

class temp_dir {
  public:
    explicit temp_dir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
        std::string tmpl = (base / "briefd-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::system_error(errno, std::system_category(), "mkdtemp");
        path_ = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

  private:
    std::filesystem::path path_;
};

/// Base for tests that create thousands of files: /dev/shm (memory) where it exists, so they stay
/// quick on a busy disk; the crash-safety tests keep using the real temp directory.
inline std::filesystem::path fast_base() {
    std::error_code ec;
    if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    return std::filesystem::temp_directory_path();
}

/// A small tmpfs mounted on `dir` (needs CAP_SYS_ADMIN); `ok()` is false where mounting is not
/// allowed, and the test then says so with a MESSAGE instead of passing silently.
class tmpfs_mount {
  public:
    tmpfs_mount(const std::filesystem::path& dir, const char* options) : dir_(dir) {
        std::filesystem::create_directories(dir_);
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options) == 0) {
            mounted_ = true;
        } else {
            error_ = std::error_code(errno, std::system_category());
        }
    }
    tmpfs_mount(const tmpfs_mount&) = delete;
    tmpfs_mount& operator=(const tmpfs_mount&) = delete;
    ~tmpfs_mount() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    bool ok() const noexcept { return mounted_; }
    std::error_code error() const noexcept { return error_; }
    /// Makes the mount read-only (EROFS for every write from then on, even for root).
    bool remount_read_only(const char* options) {
        return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, options) == 0;
    }

  private:
    std::filesystem::path dir_;
    bool mounted_ = false;
    std::error_code error_;
};

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_plain(const std::filesystem::path& p, std::string_view data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

}  // namespace briefd::test
