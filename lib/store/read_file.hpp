// Reading a file someone else dropped (a brief in the spool) without ever blocking the event loop
// and without trusting what the directory listing said it was.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace briefd::store {

/// Reads all of `path` when it is a regular file of at most `limit` bytes. Opens with
/// O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC and checks the *opened* file with fstat(2), so a FIFO,
/// socket, device or directory swapped in after a scan is refused instead of blocking in open() or
/// read(), and a symbolic link is never followed. On failure the returned bytes are empty and `why`
/// says what the file is or what went wrong, in words fit for an error file:
/// - errc::brief_not_regular: a symlink, FIFO, socket, device or directory;
/// - errc::brief_too_large: more than `limit` bytes (only `limit` + 1 are ever read);
/// - a system error from open/read (ENOENT: gone; EACCES: not readable by us…).
std::pair<std::error_code, std::string> read_regular_file(const std::filesystem::path& path,
                                                          std::size_t limit, std::string& why);

/// True when the failure of read_regular_file is the file's own and will not heal by retrying
/// (not regular, too large, unreadable by us): the caller refuses the file with `why`. False for a
/// file that is gone (ENOENT) and for the transient ones (EIO, EMFILE, ENOMEM, EINTR…).
bool unreadable_for_good(std::error_code ec) noexcept;

}  // namespace briefd::store
