// Downloads, the component: real transfers from a real HTTP server on loopback (briefd's own
// http::server standing in for a provider's CDN), real files in a temp directory, a real event loop
// — through test_job_services instead of the engine. No test asserts on timings.
#include "pipeline/downloads.hpp"

#include "http/server.hpp"
#include "pipeline/download_decider.hpp"
#include "store/atomic_file.hpp"
#include "store/paths.hpp"
#include "unit/pipeline/test_job_services.hpp"

#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace briefd;
using namespace std::chrono_literals;
using briefd::test::test_job_services;
using pipeline::detail::job_ctx;
using pipeline::detail::provider_slot;

namespace {

std::string body_of(std::size_t n) {
    return "output " + std::to_string(n) + std::string(3000, 'x');
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A files origin on 127.0.0.1: GET /f/<n> answers body_of(n) as image/png after `delay`;
/// /json/<n> answers {"n":<n>} as application/json; /empty answers 200 with no bytes; /to/<n>
/// redirects (302) to /f/<n>, /loop (307) to itself;
/// /missing answers 404; /flaky/<n> answers wrong bytes the first time, then body_of(n). It
/// records the peak of requests in progress at once and the client ports it saw (one per
/// connection).
struct files_origin {
    explicit files_origin(asio::any_io_executor ex) : srv(ex, handler()) {
        srv.listen({asio::ip::make_address("127.0.0.1"), 0});
    }
    std::string url(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(srv.local_endpoint().port()) +
               std::string(path);
    }
    http::route_handler handler() {
        return [this](const http::server_request& r) -> asio::awaitable<http::server_response> {
            ++requests;
            order.push_back(r.target);
            ports.insert(r.remote.port());
            peak = std::max(peak, ++active);
            if (delay.count() > 0) {
                asio::steady_timer t(co_await asio::this_coro::executor, delay);
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            --active;
            http::server_response res;
            res.content_type = "image/png";
            if (r.target == "/missing") {
                res.status = 404;
                res.body = "no such file";
            } else if (r.target.starts_with("/to/")) {  // 302 to /f/<n>, a path
                res.status = 302;
                res.headers.emplace_back("Location", "/f/" + r.target.substr(4));
            } else if (r.target == "/loop") {
                res.status = 307;
                res.headers.emplace_back("Location", "/loop");
            } else if (r.target == "/empty") {
                res.body.clear();  // 200, image/png, 0 bytes
            } else if (r.target.starts_with("/json/")) {
                res.content_type = "application/json";
                res.body = "{\"n\":" + r.target.substr(6) + "}";
            } else if (r.target.starts_with("/flaky/")) {
                const auto n = std::stoul(r.target.substr(7));
                res.body = flaky_seen.insert(n).second ? "garbled" : body_of(n);
            } else {
                res.body = body_of(std::stoul(r.target.substr(3)));
            }
            co_return res;
        };
    }

    std::chrono::milliseconds delay{0};
    std::size_t requests = 0, active = 0, peak = 0;
    std::set<unsigned short> ports;
    std::vector<std::string> order;  ///< targets, in the order they arrived
    std::set<std::size_t> flaky_seen;
    http::server srv;
};

/// A downloads component wired to test_job_services, with a Lamina slot whose API origin is
/// elsewhere (so the files origin is a CDN: no key, no scheduler).
struct fixture {
    explicit fixture(std::size_t limit = 4) : origin(svc.executor()) {
        cfg.max_concurrent_downloads = limit;
        pc.name = "lamina";
        pc.base_url = "http://127.0.0.1:9/v1";
        slot = std::make_unique<provider_slot>(svc.executor(), *providers::find("lamina"), pc,
                                               nullptr, log, 1);
        svc.slots["lamina"] = slot.get();
        dl = std::make_unique<pipeline::downloads>(svc.executor(), svc, cfg, log,
                                                   pipeline::downloads_port{disk_problem, metrics});
    }
    ~fixture() {
        svc.stop();
        svc.run_until_drained(2s);
    }

    /// A job of one submitted item whose run finished with these output URLs.
    job_ctx& add_job(const std::string& id, const std::vector<std::string>& urls) {
        job_ctx j;
        j.rec.job_id = id;
        j.rec.provider = "lamina";
        jobs::item_record it;
        it.state = jobs::item_state::submitted;
        it.run_id = "run-" + id;
        it.outputs_known = true;
        for (std::size_t o = 0; o < urls.size(); ++o) {
            jobs::output_record out;
            out.index = o;
            out.label = "img";
            out.type = "image";
            out.url = urls[o];
            it.outputs.push_back(out);
        }
        j.rec.items.push_back(it);
        return svc.add(std::move(j));
    }
    bool logged(std::string_view what) const {
        return std::any_of(lines.begin(), lines.end(),
                           [&](const std::string& l) { return l.find(what) != std::string::npos; });
    }

    test_job_services svc;
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};
    config::config cfg;
    config::provider_config pc;
    std::string disk_problem;
    pipeline::engine_metrics metrics;
    std::unique_ptr<provider_slot> slot;
    files_origin origin;
    std::unique_ptr<pipeline::downloads> dl;
};

}  // namespace

TEST_CASE(
    "downloads: each output saved under its final name with its size and sha256, then the "
    "item finished and the job offered for filing") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/f/0"), f.origin.url("/f/1"), f.origin.url("/f/2")});
    f.dl->start(job, 0);
    CHECK(f.dl->in_flight().size() == 3);
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.svc.crashes.empty());
    const auto& it = job.rec.items[0];
    CHECK(it.state == jobs::item_state::finished);
    for (std::size_t o = 0; o < 3; ++o) {
        const auto& out = it.outputs[o];
        CHECK(out.saved);
        CHECK(out.error.empty());
        CHECK(out.file == store::output_file_name(0, o, "img", "png"));
        CHECK(slurp(f.svc.job_dir(job) / out.file) == body_of(o));
        CHECK(out.bytes == body_of(o).size());
        CHECK(out.sha256 == store::sha256_hex(body_of(o)));
    }
    // Nothing half-written is left beside the files.
    for (const auto& e : fs::directory_iterator(f.svc.job_dir(job)))
        CHECK(e.path().extension() != ".part");
    CHECK(f.dl->in_flight().empty());
    CHECK(std::count(f.svc.filed.begin(), f.svc.filed.end(), "j1") >= 1);
    // The last snapshot persisted says so too.
    REQUIRE(f.svc.persists("j1") > 0);
    CHECK(f.svc.persisted["j1"].back().items[0].state == jobs::item_state::finished);
    CHECK(f.metrics.outputs.value({"lamina", "saved"}) == 3);
    CHECK(f.metrics.downloaded_bytes.value({"lamina"}) ==
          static_cast<double>(body_of(0).size() + body_of(1).size() + body_of(2).size()));
    CHECK(f.disk_problem.empty());
}

TEST_CASE("downloads: one task per output however often start() is called") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/f/0"), f.origin.url("/f/1")});
    f.dl->start(job, 0);
    f.dl->start(job, 0);
    CHECK(f.svc.spawned == 2);
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.origin.requests == 2);
    // Saved outputs are not downloaded again (recovery calls start() for finished items).
    f.dl->start(job, 0);
    CHECK(f.svc.spawned == 2);
}

TEST_CASE("downloads: max_concurrent_downloads transfers at once, on kept-alive connections") {
    // 48 outputs, 8 places, each answer held back a little so the places fill up. Every place
    // reuses its connection: the files origin sees no more connections than places.
    fixture f(8);
    f.origin.delay = 50ms;
    std::vector<std::string> urls;
    for (std::size_t i = 0; i < 48; ++i) urls.push_back(f.origin.url("/f/" + std::to_string(i)));
    auto& job = f.add_job("j1", urls);
    f.dl->start(job, 0);
    std::size_t peak_transferring = 0;
    REQUIRE(f.svc.run_until([&] {
        peak_transferring = std::max(peak_transferring, f.dl->transferring());
        return f.svc.drain_tasks == 0;
    }));
    CHECK(f.origin.requests == 48);
    CHECK(f.origin.peak == 8);
    CHECK(peak_transferring <= 8);
    CHECK(f.origin.ports.size() <= 8);
    for (const auto& out : job.rec.items[0].outputs) CHECK(out.saved);
}

TEST_CASE("downloads: a 404 fails the output after a few attempts; the item still finishes") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/missing"), f.origin.url("/f/1")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained());
    const auto& it = job.rec.items[0];
    CHECK(std::count(f.origin.order.begin(), f.origin.order.end(), "/missing") ==
          static_cast<long>(pipeline::not_found_attempts));
    CHECK(f.origin.requests == pipeline::not_found_attempts + 1);
    CHECK_FALSE(it.outputs[0].saved);
    CHECK(it.outputs[0].error.find("404") != std::string::npos);
    CHECK(it.outputs[1].saved);
    CHECK(it.state == jobs::item_state::finished);
    CHECK(f.metrics.outputs.value({"lamina", "failed"}) == 1);
    CHECK(f.logged("output.failed"));
    CHECK(std::count(f.svc.filed.begin(), f.svc.filed.end(), "j1") >= 1);
}

TEST_CASE(
    "downloads: bytes that do not match the provider's sha256 are never saved; the retry is") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/flaky/5")});
    job.rec.items[0].outputs[0].expected_sha256 = store::sha256_hex(body_of(5));
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained());
    const auto& out = job.rec.items[0].outputs[0];
    CHECK(f.origin.requests == 2);
    CHECK(f.logged("output.retry"));
    REQUIRE(out.saved);
    CHECK(out.sha256 == store::sha256_hex(body_of(5)));
    CHECK(slurp(f.svc.job_dir(job) / out.file) == body_of(5));
}

TEST_CASE("downloads: an output URL that is not http(s) fails without a request") {
    fixture f;
    auto& job = f.add_job("j1", {"file:///etc/passwd", "javascript:alert(1)"});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained());
    for (const auto& out : job.rec.items[0].outputs) {
        CHECK_FALSE(out.saved);
        CHECK(out.error == "output URL is not http(s)");
    }
    CHECK(f.origin.requests == 0);
    CHECK(job.rec.items[0].state == jobs::item_state::finished);
}

TEST_CASE("downloads: at stop nothing new starts and unsaved outputs stay to be redone") {
    fixture f(1);
    f.origin.delay = 200ms;
    auto& job = f.add_job("j1", {f.origin.url("/f/0"), f.origin.url("/f/1"), f.origin.url("/f/2")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until([&] { return f.origin.requests == 1; }));
    f.svc.stop();
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.origin.requests == 1);  // the two waiting for a place never went out
    for (const auto& out : job.rec.items[0].outputs) {
        CHECK_FALSE(out.saved);
        CHECK(out.error.empty());  // not failed: the next start downloads them
    }
    CHECK(job.rec.items[0].state == jobs::item_state::submitted);
    CHECK(f.dl->in_flight().empty());
    CHECK(f.dl->transferring() == 0);
    // And start() after stop spawns nothing.
    const auto spawned = f.svc.spawned;
    f.dl->start(job, 0);
    CHECK(f.svc.spawned == spawned);
    if (fs::exists(f.svc.job_dir(job)))
        for (const auto& e : fs::directory_iterator(f.svc.job_dir(job)))
            CHECK(e.path().extension() != ".part");
}

TEST_CASE("downloads: a job filed or cancelled meanwhile is left alone") {
    fixture f(1);
    f.origin.delay = 100ms;
    auto& job = f.add_job("j1", {f.origin.url("/f/0"), f.origin.url("/f/1")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until([&] { return f.origin.requests == 1; }));
    f.svc.jobs.erase("j1");  // filed: find() no longer sees it
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.svc.crashes.empty());
    CHECK(f.origin.requests == 1);
    CHECK(f.dl->in_flight().empty());
}

TEST_CASE("downloads: an output waiting to retry holds no place; the others go on meanwhile") {
    // One place. The first output's first answer is garbled (its sha256 is known), so it waits
    // about half a second before trying again; the second output takes the place meanwhile.
    fixture f(1);
    auto& job = f.add_job("j1", {f.origin.url("/flaky/3"), f.origin.url("/f/4")});
    job.rec.items[0].outputs[0].expected_sha256 = store::sha256_hex(body_of(3));
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.origin.order == std::vector<std::string>{"/flaky/3", "/f/4", "/flaky/3"});
    CHECK(job.rec.items[0].outputs[0].saved);
    CHECK(job.rec.items[0].outputs[1].saved);
    CHECK(f.dl->transferring() == 0);
}

TEST_CASE(
    "downloads: an output recorded as saved whose file a crash took is downloaded again at "
    "start(); one that is there is not") {
    // The commit renames a finished file into outputs/<job>/ without fsyncing the directory (the
    // manifest's fsync does that at filing): a power cut before it may leave a state that says
    // saved beside a directory without the file. Recovery calls start() for such items.
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/f/0"), f.origin.url("/f/1"), f.origin.url("/f/2")});
    auto& it = job.rec.items[0];
    it.state = jobs::item_state::finished;
    const auto dir = f.svc.job_dir(job);
    fs::create_directories(dir);
    for (std::size_t o = 0; o < 3; ++o) {
        auto& out = it.outputs[o];
        out.saved = true;
        out.file = store::output_file_name(0, o, "img", "png");
        out.bytes = body_of(o).size();
        out.sha256 = store::sha256_hex(body_of(o));
    }
    std::ofstream(dir / it.outputs[0].file, std::ios::binary) << body_of(0);  // there, whole
    // outputs[1]: gone. outputs[2]: an older, shorter file under its name.
    std::ofstream(dir / it.outputs[2].file, std::ios::binary) << "short";
    f.dl->start(job, 0);
    CHECK(f.dl->in_flight().size() == 2);
    CHECK(f.svc.filed.empty());  // never offered for filing with a file missing
    CHECK(f.logged("output.missing"));
    REQUIRE(f.svc.run_until_drained());
    CHECK(f.origin.requests == 2);
    CHECK(std::find(f.origin.order.begin(), f.origin.order.end(), "/f/0") == f.origin.order.end());
    for (std::size_t o = 0; o < 3; ++o) {
        CHECK(it.outputs[o].saved);
        CHECK(slurp(dir / it.outputs[o].file) == body_of(o));
    }
    CHECK(it.state == jobs::item_state::finished);
    CHECK(std::count(f.svc.filed.begin(), f.svc.filed.end(), "j1") >= 1);
}

TEST_CASE(
    "downloads: an output the API serves waits for its own provider's places, never for a CDN "
    "transfer's") {
    // One place. A Hrizn job's components (an API response, fetched through the scheduler, which
    // may hold it for rate budget) and a CDN image: the image does not wait for the fetch to
    // finish, so both requests are in progress at the origin at once.
    fixture f(1);
    config::provider_config hc;
    hc.name = "hrizn";
    hc.base_url = f.origin.url("/v1/public");
    auto hrizn = std::make_unique<provider_slot>(f.svc.executor(), *providers::find("hrizn"), hc,
                                                 nullptr, f.log, 2);
    f.svc.slots["hrizn"] = hrizn.get();
    f.origin.delay = 300ms;
    auto& job = f.add_job("h1", {f.origin.url("/json/7"), f.origin.url("/f/1")});
    job.rec.provider = "hrizn";
    auto& fetched = job.rec.items[0].outputs[0];
    fetched.fetch = true;
    fetched.type = "json";
    fetched.label = "components";
    fetched.ext = "json";
    f.dl->start(job, 0);
    std::size_t peak_fetching = 0;
    REQUIRE(f.svc.run_until([&] {
        peak_fetching = std::max(peak_fetching, f.dl->fetching());
        return f.svc.drain_tasks == 0;
    }));
    CHECK(f.origin.requests == 2);
    CHECK(f.origin.peak == 2);
    CHECK(peak_fetching == 1);
    CHECK(f.dl->fetching() == 0);
    CHECK(f.dl->transferring() == 0);
    REQUIRE(job.rec.items[0].outputs[0].saved);
    CHECK(slurp(f.svc.job_dir(job) / job.rec.items[0].outputs[0].file) == "{\"n\":7}");
    CHECK(job.rec.items[0].outputs[1].saved);
}

TEST_CASE("downloads: a files host that never sends the response header is given up on, not waited for") {
    // The origin holds every request 3 s before answering; the provider's request and idle
    // timeouts are 100 ms. The attempt times out at the header and is retried (after a backoff
    // that holds no place), long before the origin would have answered.
    fixture f(1);
    f.slot->cfg.timeouts.request = 100ms;
    f.slot->cfg.timeouts.download_idle = 100ms;
    f.origin.delay = 3s;
    auto& job = f.add_job("j1", {f.origin.url("/f/1")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until([&] { return f.logged("output.retry"); }, 2s));
    CHECK(f.logged("timed out"));
    CHECK_FALSE(job.rec.items[0].outputs[0].saved);
}

TEST_CASE("downloads: an output URL whose scheme is upper-case is downloaded like any other") {
    fixture f;
    auto url = f.origin.url("/f/5");
    url.replace(0, 4, "HTTP");
    auto& job = f.add_job("j1", {url});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained());
    REQUIRE(job.rec.items[0].outputs[0].saved);
    CHECK(slurp(f.svc.job_dir(job) / job.rec.items[0].outputs[0].file) == body_of(5));
}

TEST_CASE("downloads: a 200 with no bytes for an image is retried, never saved as a 0-byte file") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/empty")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until([&] { return f.logged("output.retry"); }, 5s));
    CHECK(f.logged("empty body"));
    CHECK_FALSE(job.rec.items[0].outputs[0].saved);
    const auto dir = f.svc.job_dir(job);
    const bool nothing_saved = !fs::exists(dir) || fs::is_empty(dir);
    CHECK(nothing_saved);
}

TEST_CASE("downloads: a redirect is followed to the file; a redirect loop fails the output") {
    fixture f;
    auto& job = f.add_job("j1", {f.origin.url("/to/6"), f.origin.url("/loop")});
    f.dl->start(job, 0);
    REQUIRE(f.svc.run_until_drained(20s));
    REQUIRE(job.rec.items[0].outputs[0].saved);
    CHECK(slurp(f.svc.job_dir(job) / job.rec.items[0].outputs[0].file) == body_of(6));
    CHECK_FALSE(job.rec.items[0].outputs[1].saved);
    CHECK(job.rec.items[0].outputs[1].error.find("HTTP 307") != std::string::npos);
    // The loop: the first request and 5 hops, then the 307 fails for good (not retried).
    CHECK(std::count(f.origin.order.begin(), f.origin.order.end(), "/loop") == 6);
}
