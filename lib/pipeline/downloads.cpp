// Downloads: each output of a finished run streamed to a .part in outputs/<job>/, checked,
// committed on the downloads' own pool, and recorded in the job's state (downloads.hpp).
#include "pipeline/downloads.hpp"

#include "core/url_text.hpp"
#include "pipeline/detail/off_loop.hpp"
#include "pipeline/download_decider.hpp"
#include "ratelimit/backoff.hpp"
#include "store/atomic_file.hpp"
#include "store/dir_sync.hpp"
#include "store/paths.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <utility>

namespace briefd::pipeline {

namespace asio = boost::asio;
using detail::job_ctx;
using detail::off_loop;
using detail::provider_slot;

namespace {
/// What the pool reports for an output written in one piece.
struct saved_file {
    std::error_code ec;
    std::uint64_t bytes = 0;
    std::string sha256;
};

/// One unit of a semaphore held by a coroutine: given back on release() or when it goes.
struct held_unit {
    detail::semaphore& sem;
    std::size_t* count = nullptr;  ///< counted up while held (may be null)
    bool held = false;
    asio::awaitable<void> acquire() {
        co_await sem.acquire();
        held = true;
        if (count) ++*count;
    }
    void release() {
        if (!held) return;
        held = false;
        if (count) --*count;
        sem.release();
    }
    ~held_unit() { release(); }
};

std::int64_t ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}
}  // namespace

downloads::downloads(asio::any_io_executor ex, detail::job_services& services,
                     const config::config& cfg, logger& log, downloads_port port)
    : ex_(ex),
      jobs_(services),
      cfg_(cfg),
      log_(log),
      port_(port),
      places_(ex, cfg.max_concurrent_downloads),
      commits_(ex, cfg.max_concurrent_downloads),
      rng_(std::random_device{}()) {}

void downloads::start(job_ctx& job, std::size_t index) {
    // From outside (recovery, the run's outputs just recorded): an output recorded as saved may
    // have lost its name in a crash (its directory was not fsynced yet, see transfer()).
    forget_missing(job, index);
    resume(job, index);
}

void downloads::forget_missing(job_ctx& job, std::size_t index) {
    const auto dir = jobs_.job_dir(job);
    for (auto& out : job.rec.items[index].outputs) {
        if (!out.saved) continue;
        struct stat st {};
        const auto file = dir / out.file;
        if (!out.file.empty() && ::fstatat(AT_FDCWD, file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == out.bytes)
            continue;
        log_.warning("output.missing", {{"job", job.rec.job_id},
                                        {"item", index},
                                        {"output", out.index},
                                        {"file", out.file},
                                        {"action", "downloading it again"}});
        out.saved = false;
        out.file.clear();
        out.bytes = 0;
        out.sha256.clear();
    }
}

void downloads::resume(job_ctx& job, std::size_t index) {
    auto& it = job.rec.items[index];
    bool all_done = true;
    for (std::size_t o = 0; o < it.outputs.size(); ++o) {
        const auto& out = it.outputs[o];
        if (out.saved || !out.error.empty()) continue;
        all_done = false;
        auto key = std::tuple{job.rec.job_id, index, o};
        // One download per output at a time.
        if (jobs_.stopping() || in_flight_.count(key)) continue;
        in_flight_.insert(key);
        jobs_.spawn(download_output(job.rec.job_id, index, o), true);
    }
    if (all_done && it.state != jobs::item_state::finished) {
        it.state = jobs::item_state::finished;
        jobs_.persist(job);
    }
    if (all_done) jobs_.maybe_file(job);
}

void downloads::disk_trouble(const std::string& job_id, const std::error_code& ec) {
    if (port_.disk_problem.empty())
        log_.error("output.disk_problem",
                   {{"job", job_id}, {"error", ec.message()}, {"action", "waiting for space"}});
    port_.disk_problem = "cannot write outputs: " + ec.message();
}

detail::semaphore& downloads::fetch_places(const std::string& provider) {
    auto& p = fetch_places_[provider];
    if (!p) p = std::make_unique<detail::semaphore>(ex_, cfg_.max_concurrent_downloads);
    return *p;
}

asio::awaitable<std::string> downloads::fetch_output(provider_slot& slot, std::string job_id,
                                                     std::size_t item, std::size_t o,
                                                     boost::urls::url url) {
    // An output served by the API itself (Hrizn's article HTML and components): one rate-budgeted
    // request with the provider's key, its body turned into the file by the provider, written
    // atomically. Small by nature: the client's body limit applies.
    http::request req;
    req.url = url;
    req.timeout = slot.cfg.timeouts.request;
    req.headers.emplace_back("Accept", "*/*");
    std::string error;
    for (unsigned attempt = 0; attempt < max_download_attempts; ++attempt) {
        auto res = co_await slot.host->async_call(req, scheduler::priority::track,
                                                  scheduler::retry_mode::idempotent);
        if (jobs_.stopping() || res.ec == errc::shutting_down) co_return std::string{};
        auto* job = jobs_.find(job_id);
        if (!job) co_return std::string{};
        auto& out = job->rec.items[item].outputs[o];
        if (res.ec) {
            error = "download failed: " + std::string(res.ec.message()) +
                    (res.resp.status ? " (HTTP " + std::to_string(res.resp.status) + ")" : "") +
                    (res.diag.message.empty() ? "" : ": " + res.diag.message);
            if (!is_retryable(res.ec)) break;
            continue;
        }
        providers::output_view view;
        view.label = out.label;
        view.type = out.type;
        view.ext = out.ext;
        std::string ct, why;
        if (auto it = res.resp.headers.find(boost::beast::http::field::content_type);
            it != res.resp.headers.end())
            ct = std::string(it->value());
        auto bytes = slot.api.fetched_output(view, ct, res.resp.body, why);
        if (!bytes) {
            error = "download failed: " + why;
            co_await jobs_.nap(std::chrono::seconds(1) * (attempt + 1));
            continue;
        }
        auto ext = out.ext.empty() ? store::pick_extension(ct, url.path(), out.type) : out.ext;
        auto dir = jobs_.job_dir(*job);
        auto name = store::output_file_name(item, o, out.label, ext);
        if (!store::is_within(dir, dir / name)) co_return std::string("unsafe output name");
        // Written and fsynced on the pool, into the job's directory made durably there the
        // first time: the loop goes on meanwhile.
        auto save = [dir, name, data = std::move(*bytes)] {
            auto [ec, out_dir] =
                store::output_dir::open(dir, store::dir_syncer::of(dir.parent_path()));
            return saved_file{ec ? ec : out_dir.write_file_atomic(name, data), data.size(),
                              store::sha256_hex(data)};
        };
        auto w = co_await off_loop(pool_, std::move(save));
        if (jobs_.stopping()) co_return std::string{};
        job = jobs_.find(job_id);
        if (!job) co_return std::string{};
        auto& saved = job->rec.items[item].outputs[o];
        if (w.ec) {
            error = "cannot save file: " + w.ec.message();
            continue;
        }
        saved.file = name;
        saved.bytes = w.bytes;
        saved.sha256 = std::move(w.sha256);
        saved.saved = true;
        saved.error.clear();
        port_.metrics.downloaded_bytes.inc({slot.name()}, static_cast<double>(saved.bytes));
        log_.info("output.saved", {{"job", job_id},
                                   {"item", item},
                                   {"output", o},
                                   {"file", name},
                                   {"bytes", saved.bytes}});
        co_return std::string{};
    }
    co_return error.empty() ? std::string("download failed") : error;
}

asio::awaitable<std::string> downloads::transfer(provider_slot& slot, std::string job_id,
                                                 std::size_t item, std::size_t o,
                                                 boost::urls::url url) {
    auto* job = jobs_.find(job_id);
    if (!job) co_return std::string{};
    const auto dir = jobs_.job_dir(*job);
    std::string error;
    ratelimit::backoff_policy bp{std::chrono::milliseconds(500), std::chrono::seconds(30)};
    unsigned hops = 0;  // redirects followed, over all attempts
    bool redirected = false;
    for (unsigned attempt = 0; attempt < max_download_attempts; ++attempt) {
        // Backoff and disk waits hold no place: other outputs go on meanwhile.
        const bool hop = std::exchange(redirected, false);
        if ((attempt > 0 && !hop) || !port_.disk_problem.empty()) {
            co_await jobs_.nap(!port_.disk_problem.empty()
                                   ? std::chrono::seconds(2)
                                   : ratelimit::backoff_delay(bp, attempt, rng_));
            if (jobs_.stopping() || !jobs_.find(job_id)) co_return std::string{};
        }
        held_unit place{places_, &transferring_};
        co_await place.acquire();
        if (jobs_.stopping() || !jobs_.find(job_id)) co_return std::string{};
        // Opened without following a symlink; every file is made relative to its fd. Opening
        // creates the job's directory the first time, with an fsync of outputs/: on the pool.
        // The job is a named local, never a temporary inside the co_await expression: GCC 12
        // destroys such temporaries twice.
        auto t_open = std::chrono::steady_clock::now();
        // A new directory's fsync of outputs/ is shared with every job's made at the same moment.
        auto open_dir = [dir] {
            return store::output_dir::open(dir, store::dir_syncer::of(dir.parent_path()));
        };
        auto opened = co_await off_loop(pool_, std::move(open_dir));
        if (jobs_.stopping() || !jobs_.find(job_id)) co_return std::string{};
        const auto dec = opened.first;
        auto& out_dir = opened.second;
        auto [pec, part] =
            dec ? std::pair{dec, store::part_file{}}
                : out_dir.create_part("." + std::to_string(item) + "-" + std::to_string(o) + ".dl");
        if (pec) {
            error = "cannot create file: " + pec.message();
            if (is_disk_problem(pec)) {
                disk_trouble(job_id, pec);
                --attempt;  // not the output's fault: wait as long as it takes
            }
            continue;
        }
        const auto open_ms = ms_since(t_open);
        const auto t_get = std::chrono::steady_clock::now();
        const auto& t = slot.cfg.timeouts;
        http::request req;
        req.url = url;
        // Up to the response header (connect, request, a server thinking): a files host that
        // accepts the connection and never answers must not hold a place for hours. The body
        // has no overall deadline (a 1 GB video takes what it takes): `idle` and the minimum
        // rate catch a stalled one.
        req.timeout = std::max(t.request, t.download_idle);
        auto [ec, info] = co_await slot.client.async_download(
            req,
            {cfg_.max_output_bytes, t.download_idle, t.download_min_bytes_per_s,
             t.download_rate_window,
             [&part](const auto& i) {
                 return i.content_length ? part.reserve(*i.content_length) : std::error_code{};
             }},
            [&part](std::string_view chunk) { return part.write(chunk); });
        if (jobs_.stopping()) {
            part.discard();
            co_return std::string{};
        }
        const auto get_ms = ms_since(t_get);
        port_.metrics.request(slot.name(), "download", info.status);
        if (!ec && is_redirect(info.status)) {
            // A signed-URL CDN's hop: followed (not an attempt), without the key unless it leads
            // back to the API origin. One that cannot be followed fails like any 3xx.
            part.discard();
            auto next = hops < max_download_redirects ? redirect_target(url, info.location)
                                                      : std::nullopt;
            if (next) {
                ++hops;
                log_.debug("output.redirect", {{"job", job_id},
                                               {"item", item},
                                               {"output", o},
                                               {"status", info.status},
                                               {"to_host", std::string(next->host())}});
                url = std::move(*next);
                redirected = true;  // the next request goes at once
                --attempt;
                continue;
            }
        }
        if (!ec) ec = download_status_error(info.status);
        auto sha = part.sha256_hex();
        auto bytes = part.bytes();
        job = jobs_.find(job_id);
        if (!job) co_return std::string{};
        std::string bad;
        if (!ec) {
            // The provider's size and checksum, when it gives them: a mismatch is a failed
            // download (retried), never a saved file.
            const auto& want = job->rec.items[item].outputs[o];
            if (want.expected_bytes && want.expected_bytes != bytes)
                bad = "size " + std::to_string(bytes) + " bytes, the provider said " +
                      std::to_string(want.expected_bytes);
            else if (!want.expected_sha256.empty() &&
                     !boost::beast::iequals(want.expected_sha256, sha))
                bad = "sha256 " + sha + " does not match the provider's " +
                      diagnostics::clean(want.expected_sha256, 64);
            else
                bad = body_problem({bytes, info.content_type, info.content_encoding, want.type});
        }
        auto verdict = decide_download({ec, !bad.empty(), attempt}, max_download_attempts);
        if (verdict == download_verdict::wait_for_disk) {
            part.discard();
            disk_trouble(job_id, ec);
            --attempt;
            continue;
        }
        if (verdict != download_verdict::save) {
            part.discard();
            error = "download failed: " + (bad.empty() ? ec.message() : bad) +
                    (ec && info.status ? " (HTTP " + std::to_string(info.status) + ")" : "");
            log_.info("output.retry",
                      {{"job", job_id},
                       {"item", item},
                       {"output", o},
                       {"error", error},
                       {"attempt", attempt + 1},
                       {"action", verdict == download_verdict::retry ? "retry" : "give up"}});
            if (verdict == download_verdict::give_up) break;
            continue;
        }
        const auto& want = job->rec.items[item].outputs[o];
        auto ext = store::pick_extension(info.content_type, url.path(), want.type);
        auto name = store::output_file_name(item, o, want.label, ext);
        if (!store::is_within(dir, dir / name)) {
            error = "unsafe output name";
            break;
        }
        // fsync and rename on the pool (0.2-1.1 s for a large file): the loop keeps tracking and
        // downloading meanwhile. `part` and `out_dir` are this coroutine's and nothing else
        // touches them until the commit completes. No fsync of the directory here (issue 13):
        // the manifest's, before the brief is filed, makes every output's name durable at once;
        // a crash before it may lose the name of an output recorded as saved, and start() finds
        // that at the restart and downloads it again.
        // The place goes to the next transfer once this one holds one of as many commit
        // places: at most twice max_concurrent_downloads files are open.
        held_unit committing{commits_};
        co_await committing.acquire();
        place.release();
        const auto t_commit = std::chrono::steady_clock::now();
        auto commit = [&out_dir, &part, &name] { return out_dir.commit_unsynced(part, name); };
        auto cec = co_await off_loop(pool_, std::move(commit));
        if (jobs_.stopping()) co_return std::string{};  // committed or not: not recorded, redone
        job = jobs_.find(job_id);
        if (!job) co_return std::string{};
        if (cec) {
            error = "cannot save file: " + cec.message();
            continue;
        }
        auto& out = job->rec.items[item].outputs[o];
        if (port_.disk_problem.starts_with("cannot write outputs")) port_.disk_problem.clear();
        out.file = name;
        out.bytes = bytes;
        out.sha256 = sha;
        out.saved = true;
        out.error.clear();
        port_.metrics.downloaded_bytes.inc({slot.name()}, static_cast<double>(bytes));
        log_.info("output.saved", {{"job", job_id},
                                   {"item", item},
                                   {"output", o},
                                   {"file", name},
                                   {"bytes", bytes},
                                   {"open_ms", open_ms},
                                   {"get_ms", get_ms},
                                   {"commit_ms", ms_since(t_commit)}});
        co_return std::string{};
    }
    co_return error.empty() ? std::string("download failed") : error;
}

asio::awaitable<void> downloads::download_output(std::string job_id, std::size_t item,
                                                 std::size_t o) {
    struct in_flight_guard {
        downloads& d;
        std::tuple<std::string, std::size_t, std::size_t> key;
        ~in_flight_guard() { d.in_flight_.erase(key); }
    } guard{*this, {job_id, item, o}};

    auto* job = jobs_.find(job_id);
    if (!job || jobs_.stopping()) co_return;
    auto* slot = jobs_.slot_of(*job);
    if (!slot) co_return;
    std::string url_text = job->rec.items[item].outputs[o].url;
    // Server-supplied: only text shaped like an http(s) URL reaches Boost.URL (1.81 asserts).
    const bool plausible = is_http_url_text(url_text);
    auto parsed =
        boost::urls::parse_uri(plausible ? std::string_view(url_text) : std::string_view());
    std::string error;
    const auto scheme = parsed ? parsed->scheme_id() : boost::urls::scheme::none;
    if (!plausible || !parsed ||
        (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)) {
        error = "output URL is not http(s)";
    } else {
        boost::urls::url url(*parsed);
        url.set_scheme_id(scheme);  // "HTTPS://" is "https://" (RFC 3986 §3.1)
        if (job->rec.items[item].outputs[o].fetch) {
            held_unit place{fetch_places(slot->name()), &fetching_};
            co_await place.acquire();
            if (jobs_.stopping() || !jobs_.find(job_id)) co_return;
            error = co_await fetch_output(*slot, job_id, item, o, std::move(url));
        } else {
            error = co_await transfer(*slot, job_id, item, o, std::move(url));
        }
    }

    job = jobs_.find(job_id);
    // At shutdown an unsaved output is redone at the next start.
    if (!job || jobs_.stopping()) co_return;
    auto& out = job->rec.items[item].outputs[o];
    if (auto* s = jobs_.slot_of(*job))
        port_.metrics.outputs.inc({s->name(), out.saved ? "saved" : "failed"});
    if (!out.saved) {
        out.error = error.empty() ? "download failed" : error;
        log_.warning("output.failed",
                     {{"job", job_id}, {"item", item}, {"output", o}, {"error", out.error}});
    }
    jobs_.persist(*job);
    in_flight_.erase({job_id, item, o});
    resume(*job, item);  // its saved outputs were saved by this process: nothing to check
}

}  // namespace briefd::pipeline
