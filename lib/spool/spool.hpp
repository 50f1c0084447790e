// The queue directory contract (DESIGN §3): incoming/ → active/ → done/ | failed/, claims by atomic
// rename, job ids, retention, and the inotify watcher of incoming/. No event loop in here: the
// watcher hands out a non-blocking fd for the daemon to wait on; the settle tracker is sans-I/O
// with the clock passed in.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace briefd::spool {

/// Where the spool lives. `outputs` may be anywhere (it is configured separately).
struct layout {
    std::filesystem::path root;
    std::filesystem::path outputs;

    std::filesystem::path incoming() const { return root / "incoming"; }
    std::filesystem::path active() const { return root / "active"; }
    std::filesystem::path done() const { return root / "done"; }
    std::filesystem::path failed() const { return root / "failed"; }
};

/// Creates root/{incoming,active,done,failed} and outputs (with parents) with mode 0750. Existing
/// directories keep their mode (the operator may have chosen another); a non-directory in the way
/// is ENOTDIR.
std::error_code ensure_dirs(const layout& l);

enum class name_kind { brief, ignored };
/// *.json / *.yaml / *.yml (extension case-insensitive) → brief. Dotfiles, *.tmp, *.part, *.swp, *~
/// and everything else → ignored. Only the name is looked at.
name_kind classify_name(std::string_view file_name);

/// One directory entry, from lstat(2).
struct entry {
    std::string name;
    bool regular = false;  ///< a regular file (what a brief must be)
    bool symlink = false;  ///< a symbolic link (never followed; the daemon files it to failed/)
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
};

/// Lists candidate briefs in incoming/ (classify_name == brief), lstat-based (never follows
/// symlinks, never opens files), sorted by name. Directories are skipped; symlinks, fifos, sockets…
/// are listed with regular == false so the daemon can refuse them. An entry that vanishes mid-scan
/// is left out.
std::vector<entry> scan_incoming(const layout& l, std::error_code& ec);

/// One incoming/ name (e.g. from an inotify event), lstat-based: the entry as scan_incoming would
/// list it, or nullopt when it is gone, is a directory or is not a brief name. O(1): for the names
/// of a change, instead of a rescan of the whole directory.
std::optional<entry> stat_incoming(const layout& l, std::string_view name);

/// A file the settle tracker hands out for claiming, with what it knew of it.
struct ready_file {
    std::string name;
    /// Reported closed after writing or moved in (mark_closed): complete on arrival. Otherwise
    /// it settled: unchanged for the settle time, and maybe still open in its writer.
    bool closed = false;
    /// Whether size and mtime below are known (a file marked closed that was never observed has
    /// none).
    bool observed = false;
    /// Its size and mtime when last observed (for a settled file: re-checked as it came due).
    /// The claim compares the file it read with these.
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
};

/// Settle check for writers that write in place (sans-I/O, the caller passes the clock and, to
/// take_ready, a stat function). A file observed (its IN_CREATE, a rescan) is ready once its
/// size and mtime have been unchanged for `settle`: when its deadline comes due take_ready looks
/// at it again, and a change restarts its clock. A file reported by IN_CLOSE_WRITE /
/// IN_MOVED_TO (mark_closed) is ready at once. A settle of zero makes every observed file ready.
class settle_tracker {
  public:
    using time_point = std::chrono::steady_clock::time_point;
    /// The file's entry now (stat_incoming), nullopt when it is gone.
    using stat_fn = std::function<std::optional<entry>(std::string_view name)>;

    explicit settle_tracker(std::chrono::milliseconds settle) : settle_(settle) {}

    /// Records a rescan's view of a file; a changed size or mtime restarts its settle timer.
    void observe(const entry& e, time_point now);
    /// The file was closed after writing or moved in: ready now, whatever its timer says.
    void mark_closed(std::string_view name);
    bool ready(std::string_view name, time_point now) const;
    /// Stop tracking (claimed, or gone).
    void forget(std::string_view name);
    /// Earliest moment a not-yet-ready observed file may become ready (closed files are ready
    /// already and do not count); nullopt when nothing is waiting. The daemon arms its rescan timer
    /// with it.
    std::optional<time_point> next_check() const;
    std::size_t tracked() const noexcept { return files_.size(); }

    /// Takes up to `max` files that are ready at `now` out of the tracker, for claiming: closed
    /// files first in the order they were reported, then settled ones, earliest first. A settled
    /// one is first looked at again with `restat` (when given and the settle time is not zero):
    /// a file written in place is only observed when it is created and on rescans, so its
    /// deadline says nothing about the writes since. If its size or mtime changed it is observed
    /// anew (its clock restarts at `now`) and stays; if it is gone it is forgotten. Closed files
    /// are never looked at. O(taken × log tracked) plus one restat per settled file that came
    /// due: nothing else is looked at. A taken file is no longer tracked (a later observe() or
    /// mark_closed() tracks it afresh).
    std::vector<ready_file> take_ready(time_point now, std::size_t max, const stat_fn& restat = {});
    /// Whether take_ready(now, …) would return anything.
    bool any_ready(time_point now) const;

  private:
    using deadline_map = std::multimap<time_point, std::string>;
    struct state {
        std::uint64_t size = 0;
        std::int64_t mtime_ns = 0;
        std::optional<time_point> stable_since;  // nullopt: only known from an inotify event
        bool closed = false;
        std::optional<deadline_map::iterator> waiting;  // its entry in deadlines_, if any
    };
    using file_map = std::map<std::string, state, std::less<>>;
    void unschedule(state& s);
    void erase(file_map::iterator it);

    std::chrono::milliseconds settle_;
    file_map files_;
    deadline_map deadlines_;          // stable_since + settle → name, for files not closed
    std::deque<std::string> closed_;  // names marked closed, in order (stale ones are skipped)
};

/// The job id a brief's name starts from, before it is made unique (make_job_id's rule below):
/// its stem with case, letters, digits, '.', '_', '-' kept, anything else '-', no leading '.' or
/// '-', no "..", at most 64 bytes, "brief" when nothing is left.
std::string job_stem(std::string_view file_name);

/// Job id per DESIGN §3: the brief's stem ("sneakers.json" → "sneakers"), sanitised to a safe path
/// component (ASCII letters, digits, '.', '_', '-' kept, case kept; anything else → '-'; no leading
/// '.' or '-'; at most 64 bytes; "brief" if nothing is left), then made unique (stem-2, stem-3, …)
/// against every name in active/, done/, failed/ that equals the id or starts with "<id>." (so
/// "<id>.json", "<id>.state.json",
/// "<id>.error.json" all count) and every entry in outputs/.
/// Call it before claim(), or pass the brief's own name under active/ as `self_in_active` so the
/// brief does not collide with itself. The daemon persists the result in the job's state: it is not
/// recomputed.
std::string make_job_id(const layout& l, std::string_view file_name,
                        std::string_view self_in_active = {});

/// The names a new job id must not collide with (make_job_id's rule), kept in memory so that
/// picking an id costs O(1) instead of a listing of four directories per claim (sans-I/O apart
/// from load()). Built once at start-up, then kept current by the daemon's own renames: it may
/// hold names that are gone (that only makes an id get a suffix), never miss one briefd made.
/// Names created by others behind briefd's back are not seen; the file system still decides every
/// race (claims and filing never replace anything), the index only saves the scans.
class name_index {
  public:
    /// One listing (readdir, no stat) of active/, done/, failed/ and outputs/. `ec` is the first
    /// error; the names read before it are kept.
    static name_index load(const layout& l, std::error_code& ec);

    /// An entry of active/, done/ or failed/: the name and every prefix of it that ends before a
    /// '.' become taken ("x.state.json" takes "x", "x.state" and "x.state.json"). Counted: each
    /// add needs its own remove.
    void add_spool_name(std::string_view name);
    void remove_spool_name(std::string_view name);
    /// An entry of outputs/ (a job's directory): only the name itself is taken.
    void add_output(std::string_view name);
    void remove_output(std::string_view name);

    bool taken(std::string_view id) const;
    /// make_job_id() against the index, without a scan. `self` (the brief's own name in active/,
    /// for briefs found there at start-up) does not count against it.
    std::string pick_job_id(std::string_view file_name, std::string_view self = {}) const;
    /// pick_job_id() and take the result (as an outputs/ entry, which the job's directory will
    /// be), so the next pick differs even before anything exists on disk.
    std::string reserve_job_id(std::string_view file_name, std::string_view self = {});
    /// Distinct names taken.
    std::size_t size() const noexcept { return counts_.size(); }

  private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    void add(std::string_view n);
    void remove(std::string_view n);
    std::unordered_map<std::string, std::uint32_t, hash, std::equal_to<>> counts_;
};

/// Claims incoming/<name> by an atomic rename (RENAME_NOREPLACE) into active/; if the name is taken
/// in active/, a suffix is added before the extension ("name-2.json", "name-3.json", …). Returns
/// the name under active/. ENOENT means another process (or the producer) took the file first:
/// expected, not worth a loud log. EINVAL for a name that is not a plain file name.
std::pair<std::error_code, std::string> claim(const layout& l, std::string_view name);

/// claim() without its two directory fsyncs, for claiming a burst: the caller makes the batch
/// durable with one fsync of active/ and one of incoming/ (store::fsync_dir) for the whole batch
/// before anything depends on the claims.
std::pair<std::error_code, std::string> claim_deferred(const layout& l, std::string_view name);

/// Delivers a brief into incoming/ the Maildir way, for producers on the same host (`briefd
/// submit`, `briefd retry`): `bytes` are written to a temp file in incoming/ under a dot-name the
/// daemon never takes (".deliver.<pid>.<n>.tmp": Maildir's tmp/, in the one directory producers
/// of the spool's group may write), fsynced, then renamed to `name`, or name-2, name-3… if taken —
/// never replacing anything — and the directory is fsynced. So the daemon sees the whole file or
/// nothing, under its final name at once. Run as root, the file is given incoming/'s owner and
/// group so the daemon's user can read it. Returns the name under incoming/; on error the temp is
/// removed and nothing appears (ENOENT when incoming/ does not exist: it is not created here).
/// EINVAL for a name that is not a plain brief name (classify_name).
std::pair<std::error_code, std::string> deliver(const layout& l, std::string_view name,
                                                std::string_view bytes, mode_t mode = 0640);

/// One active/ name, lstat-based, as stat_incoming looks at incoming/ (nullopt: gone or not a
/// brief name). For intake's look at a brief it has just claimed and read.
std::optional<entry> stat_active(const layout& l, std::string_view name);

/// Gives a claimed brief back: active/<active_name> → incoming/<name> (its name before the
/// claim), by an atomic rename that never replaces anything — EEXIST when a new file of that name
/// was dropped meanwhile (the brief then stays in active/). For a brief found to be still written
/// to after it was claimed: it settles again in incoming/, where its writer's close is seen. No
/// fsync, as with claim_deferred: the batch's one fsync of each directory makes it durable, and a
/// crash before that finds the file whole under one of the two names.
std::error_code unclaim_deferred(const layout& l, std::string_view active_name,
                                 std::string_view name);

enum class outcome { done, failed };
/// Moves `from` (active/<name>, or incoming/<name> for briefs refused before claiming) to done/ or
/// failed/, keeping the file name, suffixing ("name-2.json") if taken. Returns the final name.
/// Durable (both directories fsynced) and never replaces anything.
std::pair<std::error_code, std::string> file_brief(const layout& l,
                                                   const std::filesystem::path& from, outcome o);
/// file_brief() without its two directory fsyncs, for filing several briefs at once: the caller
/// makes the move durable (the destination directory fsynced, then the source's) before anything
/// reports the brief as filed.
std::pair<std::error_code, std::string> file_brief_deferred(const layout& l,
                                                            const std::filesystem::path& from,
                                                            outcome o);

/// The name of failed/<brief>'s error file: "<brief_name>.error.json", or, when that (or the temp
/// file it is written through) would not fit NAME_MAX, the brief's name cut short with a hash of
/// the whole name (store::fit_name) before ".error.json". Deterministic: one brief name, one error
/// file name.
std::string error_file_name(std::string_view brief_name);

/// Removes entries of done/ and failed/ whose mtime is older than `age` (symlinks themselves, never
/// their targets); age 0 keeps everything. Returns how many were removed; `ec` is the first error
/// met.
/// With `names`, each removed entry is also removed from the index.
std::size_t sweep_retention(const layout& l, std::chrono::hours age, std::error_code& ec,
                            name_index* names = nullptr);

/// inotify on one directory with IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE (IN_Q_OVERFLOW is always
/// reported).
/// The fd is non-blocking: the daemon waits on fd()
/// (asio::posix::stream_descriptor::async_wait(wait_read)) and calls drain() when it is readable.
/// Movable, not copyable; closes the fd on destruction.
class watcher {
  public:
    static std::pair<std::error_code, watcher> open(const std::filesystem::path& dir);

    watcher(watcher&& other) noexcept;
    watcher& operator=(watcher&& other) noexcept;
    watcher(const watcher&) = delete;
    watcher& operator=(const watcher&) = delete;
    ~watcher();

    int fd() const noexcept { return fd_; }

    struct batch {
        /// Files closed after writing or moved in, first-seen order, no duplicates. Raw names:
        /// run classify_name on them.
        std::vector<std::string> names;
        /// closed[i]: names[i] was closed after writing (IN_CLOSE_WRITE) in this batch, not only
        /// moved in (IN_MOVED_TO) — which is also what the daemon's own rename of a brief back
        /// into incoming/ reports.
        std::vector<bool> closed;
        /// Entries created in place (IN_CREATE): a symlink or fifo shows up only here; a regular
        /// file being written is not ready yet. Look at them with stat_incoming.
        std::vector<std::string> created;
        bool overflow = false;  ///< events were lost: rescan incoming/
        bool watch_lost =
            false;  ///< the directory was deleted, moved or unmounted: re-open (and rescan)
    };
    /// Reads every event available now (EAGAIN ends the batch). `ec` is set for a read error other
    /// than EAGAIN/EINTR; the names gathered before it are still returned.
    batch drain(std::error_code& ec);

  private:
    watcher() = default;
    int fd_ = -1;
};

}  // namespace briefd::spool
