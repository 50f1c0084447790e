#include "spool/spool.hpp"

#include "store/atomic_file.hpp"
#include "store/paths.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace briefd::spool {
namespace {

namespace fs = std::filesystem;

std::error_code errno_code(int e = errno) noexcept {
    return {e, std::system_category()};
}

constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ends_with_nocase(std::string_view s, std::string_view suffix) noexcept {
    if (s.size() < suffix.size()) return false;
    return std::equal(suffix.begin(), suffix.end(),
                      s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                      [](char a, char b) { return a == to_lower(b); });
}

/// A name that can only mean one entry of one directory.
bool is_plain_name(std::string_view n) noexcept {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
           n.find('\0') == std::string_view::npos;
}

std::error_code make_dir(const fs::path& p, int depth = 0) {
    if (::mkdir(p.c_str(), 0750) == 0) {
        // mkdir's mode passes through the umask; the contract is 0750 exactly.
        return ::chmod(p.c_str(), 0750) == 0 ? std::error_code{} : errno_code();
    }
    if (errno == EEXIST) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) return errno_code();
        return S_ISDIR(st.st_mode) ? std::error_code{} : errno_code(ENOTDIR);
    }
    if (errno == ENOENT && depth < 64 && p.has_parent_path() && p.parent_path() != p) {
        if (auto ec = make_dir(p.parent_path(), depth + 1)) return ec;
        return make_dir(p, depth + 1);
    }
    return errno_code();
}

/// "name.json" + 2 → "name-2.json"; "name" + 2 → "name-2"; ".x" is not an extension. A name
/// that would pass NAME_MAX is shortened (store::fit_name), so a 255-byte brief can be suffixed.
std::string suffixed(std::string_view name, unsigned k) {
    const auto dot = name.rfind('.');
    const std::string tag = "-" + std::to_string(k);
    if (dot == std::string_view::npos || dot == 0) return store::fit_name(name, tag);
    return store::fit_name(name.substr(0, dot), tag + std::string(name.substr(dot)));
}

/// Renames `from` into `dir` under `name`, or name-2, name-3… without ever replacing anything.
std::pair<std::error_code, std::string> move_unique(const fs::path& from, const fs::path& dir,
                                                    std::string_view name, bool durable = true) {
    constexpr unsigned max_tries = 100000;
    for (unsigned k = 1; k <= max_tries; ++k) {
        std::string candidate = k == 1 ? std::string(name) : suffixed(name, k);
        auto ec = durable ? store::durable_rename(from, dir / candidate, true)
                          : store::rename_noreplace(from, dir / candidate);
        if (!ec) return {ec, std::move(candidate)};
        if (ec != std::errc::file_exists) return {ec, {}};
    }
    return {errno_code(EEXIST), {}};
}

/// Calls f(name, dir_fd) for every entry of `dir` except "." and "..", readdir only. Returns the
/// first error; f may set it through its third argument.
template <typename F>
std::error_code for_each_name(const fs::path& dir, F&& f) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        auto ec = errno_code();
        ::close(fd);
        return ec;
    }
    std::error_code first;
    for (;;) {
        errno = 0;
        const dirent* de = ::readdir(d);
        if (de == nullptr) {
            if (errno != 0 && !first) first = errno_code();
            break;
        }
        std::string_view name = de->d_name;
        if (name == "." || name == "..") continue;
        f(name, fd, first);
    }
    ::closedir(d);
    return first;
}

/// Calls f(name, stat, dir_fd) for every entry of `dir` except "." and "..", lstat-based. Entries
/// that vanish between readdir and fstatat are skipped.
template <typename F>
std::error_code for_each_entry(const fs::path& dir, F&& f) {
    return for_each_name(dir, [&](std::string_view name, int fd, std::error_code& first) {
        struct stat st {};
        if (::fstatat(fd, std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT && !first) first = errno_code();
            return;
        }
        f(name, st, fd);
    });
}

std::int64_t mtime_ns_of(const struct stat& st) noexcept {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::string job_stem(std::string_view file_name) {
    std::string_view stem = file_name;
    if (auto dot = stem.rfind('.'); dot != std::string_view::npos && dot > 0)
        stem = stem.substr(0, dot);
    constexpr std::size_t max_len = 64;
    std::string out;
    for (char c : stem) {
        if (out.size() >= max_len) break;
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        char x = keep ? c : '-';
        if (out.empty() && (x == '.' || x == '-')) continue;
        // Collapse separator runs: this also rules out "..".
        if ((x == '-' || x == '.') && !out.empty() && (out.back() == '-' || out.back() == '.'))
            continue;
        out.push_back(x);
    }
    while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
    return out.empty() ? std::string("brief") : out;
}

std::error_code ensure_dirs(const layout& l) {
    for (const auto& p : {l.root, l.incoming(), l.active(), l.done(), l.failed(), l.outputs}) {
        if (p.empty()) return errno_code(EINVAL);
        if (auto ec = make_dir(p)) return ec;
    }
    return {};
}

name_kind classify_name(std::string_view n) {
    if (!is_plain_name(n) || n.front() == '.' || n.back() == '~') return name_kind::ignored;
    for (std::string_view ext : {".json", ".yaml", ".yml"}) {
        if (n.size() > ext.size() && ends_with_nocase(n, ext)) return name_kind::brief;
    }
    // *.tmp, *.part, *.swp and anything else: not ours to take.
    return name_kind::ignored;
}

std::vector<entry> scan_incoming(const layout& l, std::error_code& ec) {
    std::vector<entry> out;
    ec = for_each_entry(l.incoming(), [&](std::string_view name, const struct stat& st, int) {
        if (S_ISDIR(st.st_mode) || classify_name(name) != name_kind::brief) return;
        out.push_back(entry{std::string(name), S_ISREG(st.st_mode), S_ISLNK(st.st_mode),
                            static_cast<std::uint64_t>(st.st_size), mtime_ns_of(st)});
    });
    std::sort(out.begin(), out.end(),
              [](const entry& a, const entry& b) { return a.name < b.name; });
    return out;
}

namespace {
std::optional<entry> stat_in(const fs::path& dir, std::string_view name) {
    if (classify_name(name) != name_kind::brief) return std::nullopt;
    const fs::path p = dir / name;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return std::nullopt;
    return entry{std::string(name), S_ISREG(st.st_mode), S_ISLNK(st.st_mode),
                 static_cast<std::uint64_t>(st.st_size), mtime_ns_of(st)};
}
}  // namespace

std::optional<entry> stat_incoming(const layout& l, std::string_view name) {
    return stat_in(l.incoming(), name);
}

std::optional<entry> stat_active(const layout& l, std::string_view name) {
    return stat_in(l.active(), name);
}

std::error_code unclaim_deferred(const layout& l, std::string_view active_name,
                                 std::string_view name) {
    if (!is_plain_name(active_name) || !is_plain_name(name)) return errno_code(EINVAL);
    return store::rename_noreplace(l.active() / active_name, l.incoming() / name);
}

// --- settle_tracker
// ------------------------------------------------------------------------------------

void settle_tracker::unschedule(state& s) {
    if (s.waiting) {
        deadlines_.erase(*s.waiting);
        s.waiting.reset();
    }
}

void settle_tracker::erase(file_map::iterator it) {
    unschedule(it->second);
    files_.erase(it);
}

void settle_tracker::observe(const entry& e, time_point now) {
    auto it = files_.find(e.name);
    if (it == files_.end()) it = files_.emplace(e.name, state{}).first;
    state& s = it->second;
    if (!s.stable_since || s.size != e.size || s.mtime_ns != e.mtime_ns) {
        s.size = e.size;
        s.mtime_ns = e.mtime_ns;
        s.stable_since = now;
        unschedule(s);
        if (!s.closed) s.waiting = deadlines_.emplace(now + settle_, it->first);
    }
}

void settle_tracker::mark_closed(std::string_view name) {
    auto it = files_.find(name);
    if (it == files_.end()) it = files_.emplace(std::string(name), state{}).first;
    if (it->second.closed) return;
    it->second.closed = true;
    unschedule(it->second);
    closed_.push_back(it->first);
}

bool settle_tracker::ready(std::string_view name, time_point now) const {
    auto it = files_.find(name);
    if (it == files_.end()) return false;
    const state& s = it->second;
    return s.closed || (s.stable_since && now - *s.stable_since >= settle_);
}

void settle_tracker::forget(std::string_view name) {
    if (auto it = files_.find(name); it != files_.end()) erase(it);
}

std::optional<settle_tracker::time_point> settle_tracker::next_check() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first;
}

bool settle_tracker::any_ready(time_point now) const {
    // closed_ may hold stale names (forgotten or taken since); they cost one look-up each.
    for (const auto& n : closed_) {
        if (auto it = files_.find(n); it != files_.end() && it->second.closed) return true;
    }
    return !deadlines_.empty() && deadlines_.begin()->first <= now;
}

std::vector<ready_file> settle_tracker::take_ready(time_point now, std::size_t max,
                                                   const stat_fn& restat) {
    std::vector<ready_file> out;
    const auto hand_out = [&](file_map::iterator it) {
        const state& s = it->second;
        out.push_back({it->first, s.closed, s.stable_since.has_value(), s.size, s.mtime_ns});
        erase(it);
    };
    while (out.size() < max && !closed_.empty()) {
        std::string n = std::move(closed_.front());
        closed_.pop_front();
        auto it = files_.find(n);
        if (it == files_.end() || !it->second.closed) continue;  // stale
        hand_out(it);
    }
    // With a settle time of zero a changed file would come due again at `now`: not looked at.
    const bool look = restat && settle_.count() > 0;
    while (out.size() < max && !deadlines_.empty() && deadlines_.begin()->first <= now) {
        auto it = files_.find(deadlines_.begin()->second);
        if (look) {
            const auto e = restat(it->first);
            if (!e) {  // gone (claimed by another daemon, removed, now a directory)
                erase(it);
                continue;
            }
            if (e->size != it->second.size || e->mtime_ns != it->second.mtime_ns) {
                observe(*e, now);  // still being written: its clock restarts, due after `now`
                continue;
            }
        }
        hand_out(it);
    }
    return out;
}

// --- names and moves
// -----------------------------------------------------------------------------------

std::string make_job_id(const layout& l, std::string_view file_name,
                        std::string_view self_in_active) {
    std::error_code ec;  // an unreadable directory counts as empty, as it always did
    return name_index::load(l, ec).pick_job_id(file_name, self_in_active);
}

std::pair<std::error_code, std::string> deliver(const layout& l, std::string_view name,
                                                std::string_view bytes, mode_t mode) {
    if (name.empty() || name.find('/') != std::string_view::npos ||
        classify_name(name) != name_kind::brief)
        return {errno_code(EINVAL), {}};
    static unsigned counter = 0;
    // In incoming/ itself (producers in the spool's group may write only there), under a dot-name
    // the daemon never takes; the rename then stays within one directory.
    const auto tmp = l.incoming() / (".deliver." + std::to_string(::getpid()) + "." +
                                     std::to_string(++counter) + ".tmp");
    if (auto ec = store::write_file_atomic(tmp, bytes, mode)) return {ec, {}};
    struct stat st {};
    if (::geteuid() == 0 && ::stat(l.incoming().c_str(), &st) == 0 &&
        ::chown(tmp.c_str(), st.st_uid, st.st_gid) != 0) {
        auto ec = errno_code();
        std::error_code rm;
        fs::remove(tmp, rm);
        return {ec, {}};
    }
    auto r = move_unique(tmp, l.incoming(), name);
    if (r.first) {
        std::error_code rm;
        fs::remove(tmp, rm);
    }
    return r;
}

std::pair<std::error_code, std::string> claim(const layout& l, std::string_view name) {
    if (!is_plain_name(name)) return {errno_code(EINVAL), {}};
    return move_unique(l.incoming() / name, l.active(), name);
}

std::pair<std::error_code, std::string> claim_deferred(const layout& l, std::string_view name) {
    if (!is_plain_name(name)) return {errno_code(EINVAL), {}};
    return move_unique(l.incoming() / name, l.active(), name, false);
}

// --- name_index
// ----------------------------------------------------------------------------------------

name_index name_index::load(const layout& l, std::error_code& ec) {
    ec.clear();
    name_index idx;
    // readdir alone: the names are all that matter, so no stat per entry.
    auto list = [&](const fs::path& dir, auto&& add) {
        auto dir_ec =
            for_each_name(dir, [&](std::string_view n, int, std::error_code&) { add(n); });
        if (dir_ec && !ec) ec = dir_ec;
    };
    for (const auto& dir : {l.active(), l.done(), l.failed()})
        list(dir, [&](std::string_view n) { idx.add_spool_name(n); });
    list(l.outputs, [&](std::string_view n) { idx.add_output(n); });
    return idx;
}

void name_index::add(std::string_view n) {
    auto it = counts_.find(n);
    if (it == counts_.end())
        counts_.emplace(std::string(n), 1);
    else
        ++it->second;
}

void name_index::remove(std::string_view n) {
    auto it = counts_.find(n);
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
}

void name_index::add_spool_name(std::string_view n) {
    for (std::size_t i = 1; i < n.size(); ++i)
        if (n[i] == '.') add(n.substr(0, i));
    add(n);
}

void name_index::remove_spool_name(std::string_view n) {
    for (std::size_t i = 1; i < n.size(); ++i)
        if (n[i] == '.') remove(n.substr(0, i));
    remove(n);
}

void name_index::add_output(std::string_view n) {
    add(n);
}
void name_index::remove_output(std::string_view n) {
    remove(n);
}

bool name_index::taken(std::string_view id) const {
    return counts_.find(id) != counts_.end();
}

std::string name_index::pick_job_id(std::string_view file_name, std::string_view self) const {
    const std::string id = job_stem(file_name);
    // `self` takes "x" for "x.json": that one name does not count against the brief itself.
    auto self_takes = [&](std::string_view c) {
        return !self.empty() && (self == c || (self.starts_with(c) && self.size() > c.size() &&
                                               self[c.size()] == '.'));
    };
    auto free = [&](const std::string& c) {
        auto it = counts_.find(std::string_view(c));
        if (it == counts_.end()) return true;
        return self_takes(c) && it->second == 1;
    };
    std::string candidate = id;
    for (unsigned k = 2; !free(candidate); ++k) candidate = id + "-" + std::to_string(k);
    return candidate;
}

std::string name_index::reserve_job_id(std::string_view file_name, std::string_view self) {
    auto id = pick_job_id(file_name, self);
    add_output(id);
    return id;
}

std::pair<std::error_code, std::string> file_brief(const layout& l, const fs::path& from,
                                                   outcome o) {
    const std::string name = from.filename().string();
    if (!is_plain_name(name)) return {errno_code(EINVAL), {}};
    return move_unique(from, o == outcome::done ? l.done() : l.failed(), name);
}

std::pair<std::error_code, std::string> file_brief_deferred(const layout& l, const fs::path& from,
                                                            outcome o) {
    const std::string name = from.filename().string();
    if (!is_plain_name(name)) return {errno_code(EINVAL), {}};
    return move_unique(from, o == outcome::done ? l.done() : l.failed(), name, false);
}

std::string error_file_name(std::string_view brief_name) {
    return store::fit_name(brief_name, ".error.json", store::atomic_name_max);
}

std::size_t sweep_retention(const layout& l, std::chrono::hours age, std::error_code& ec,
                            name_index* names) {
    ec.clear();
    if (age.count() <= 0) return 0;
    const auto cutoff = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            (std::chrono::system_clock::now() - age).time_since_epoch())
                            .count();
    std::size_t removed = 0;
    for (const auto& dir : {l.done(), l.failed()}) {
        auto dir_ec = for_each_entry(dir, [&](std::string_view n, const struct stat& st, int dfd) {
            if (mtime_ns_of(st) >= cutoff) return;
            const std::string name(n);
            if (S_ISDIR(st.st_mode)) {
                std::error_code rm_ec;
                if (fs::remove_all(dir / name, rm_ec) > 0) {
                    ++removed;  // does not follow symlinks inside
                    if (names) names->remove_spool_name(name);
                }
                if (rm_ec && !ec) ec = rm_ec;
            } else if (::unlinkat(dfd, name.c_str(), 0) == 0) {
                ++removed;
                if (names) names->remove_spool_name(name);
            } else if (errno != ENOENT && !ec) {
                ec = errno_code();
            }
        });
        if (dir_ec && !ec) ec = dir_ec;
    }
    return removed;
}

// --- watcher
// -------------------------------------------------------------------------------------------

std::pair<std::error_code, watcher> watcher::open(const fs::path& dir) {
    watcher w;
    w.fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w.fd_ < 0) return {errno_code(), watcher{}};
    // The *_SELF events tell us the directory itself went away, which no rescan of it would reveal.
    constexpr std::uint32_t mask =
        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    if (::inotify_add_watch(w.fd_, dir.c_str(), mask) < 0) return {errno_code(), watcher{}};
    return {std::error_code{}, std::move(w)};
}

watcher::watcher(watcher&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

watcher& watcher::operator=(watcher&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

watcher::~watcher() {
    if (fd_ >= 0) ::close(fd_);
}

watcher::batch watcher::drain(std::error_code& ec) {
    ec.clear();
    batch b;
    if (fd_ < 0) {
        ec = errno_code(EBADF);
        return b;
    }
    std::unordered_map<std::string, std::size_t> seen;  // name → its index in b.names
    std::unordered_set<std::string> seen_created;
    alignas(inotify_event) std::array<char, 64 * 1024> buf;
    for (;;) {
        const ssize_t n = ::read(fd_, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) ec = errno_code();
            break;
        }
        if (n == 0) break;
        std::size_t off = 0;
        const auto len = static_cast<std::size_t>(n);
        while (off + sizeof(inotify_event) <= len) {
            inotify_event ev;
            std::memcpy(&ev, buf.data() + off, sizeof ev);  // no type punning on the char buffer
            const char* name = buf.data() + off + sizeof(inotify_event);
            off += sizeof(inotify_event) + ev.len;
            if (ev.mask & IN_Q_OVERFLOW) b.overflow = true;
            if (ev.mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
                b.watch_lost = true;
            if (ev.len == 0 || (ev.mask & IN_ISDIR) ||
                !(ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)))
                continue;
            std::string s(name, ::strnlen(name, ev.len));  // the kernel pads names with NULs
            if (ev.mask & IN_CREATE) {
                if (seen_created.insert(s).second) b.created.push_back(std::move(s));
            } else {
                const bool closed = (ev.mask & IN_CLOSE_WRITE) != 0;
                auto [it, fresh] = seen.try_emplace(s, b.names.size());
                if (fresh) {
                    b.names.push_back(std::move(s));
                    b.closed.push_back(closed);
                } else if (closed) {
                    b.closed[it->second] = true;
                }
            }
        }
    }
    return b;
}

}  // namespace briefd::spool
