// The driver of tracker_fsm for one run: carries out its actions (open the SSE stream and read it,
// wait, poll) through the request scheduler, and reports what happened back to it.
#include "pipeline/detail/engine_impl.hpp"

#include "sse/parser.hpp"
#include "store/atomic_file.hpp"
#include "store/paths.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline::detail {

namespace lamina = providers::lamina;
using verb = boost::beast::http::verb;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void engine_impl::start_tracking(job_ctx& job, std::size_t index) {
    ++running_runs;
    spawn(track_run(job.rec.job_id, index, job.rec.items[index].run_id), false);
}

namespace {
bool is_event_stream(const boost::beast::http::fields& h) {
    auto it = h.find(boost::beast::http::field::content_type);
    if (it == h.end()) return false;
    std::string v(it->value());
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto semi = v.find(';');
    auto mime = v.substr(0, semi);
    while (!mime.empty() && mime.back() == ' ') mime.pop_back();
    return mime == "text/event-stream";  // parameters (charset…) are ignored, per WHATWG
}
}  // namespace

asio::awaitable<void> engine_impl::track_run(std::string job_id, std::size_t index, std::string run_id) {
    tracker_fsm fsm(tracker_cfg(), rng());
    std::unique_ptr<http::client::body_stream> stream;
    sse::parser parser;
    std::optional<lamina::run_status> last;
    auto close_stream = [&] {
        if (stream) {
            open_streams.erase(stream.get());
            stream->close();
            stream.reset();
        }
    };
    auto sleep_until = [this](clock::time_point t) { return nap_until(t); };
    auto act = fsm.start(clock::now());
    log.debug("run.tracking", {{"job", job_id}, {"item", index}, {"run", run_id}});

    while (!stopping) {
        using k = tracker_action::kind;
        if (act.what == k::open_stream) {
            close_stream();
            co_await sleep_until(act.not_before);
            if (stopping) break;
            if (co_await host->async_acquire(scheduler::priority::track)) break;
            auto req = api_request(verb::get, "/v1/runs/" + run_id + "/stream");
            req.headers.clear();
            req.headers.emplace_back("Accept", "text/event-stream");
            req.headers.emplace_back("Cache-Control", "no-store");
            if (!act.last_event_id.empty()) req.headers.emplace_back("Last-Event-ID", act.last_event_id);
            auto [ec, s] = co_await client.async_open(std::move(req));
            if (stopping) break;
            if (ec) {
                act = fsm.on_stream_ended(clock::now(), ec, parser.retry());
                continue;
            }
            auto cls = host->observe(s->status(), s->headers(), {});
            if (cls == errc::rate_limited || host->blocked()) continue;  // same action after the pause
            if (s->status() == 404) {
                act = fsm.on_stream_refused(clock::now(), errc::not_found);
                continue;
            }
            if (s->status() != 200 || !is_event_stream(s->headers())) {
                log.info("run.stream_refused", {{"run", run_id}, {"status", s->status()}});
                act = fsm.on_stream_refused(clock::now());
                continue;
            }
            stream = std::move(s);
            open_streams.insert(stream.get());
            parser.reset_connection();
            act.what = k::read;
            act.idle_timeout = tracker_cfg().sse_idle_timeout;
        }
        if (act.what == k::read) {
            if (!stream) {  // defensive: the fsm asked to read with no stream open
                act = fsm.on_stream_ended(clock::now(), errc::sse_stream_ended, parser.retry());
                continue;
            }
            auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(act.idle_timeout);
            auto [ec, chunk] = co_await stream->async_read_some(idle);
            if (stopping) break;
            if (ec) {
                close_stream();
                act = fsm.on_stream_ended(clock::now(), ec == errc::read_timeout ? errc::sse_idle_timeout : ec,
                                          parser.retry());
                continue;
            }
            if (chunk.empty() && stream->done()) {
                parser.end_of_stream();
                close_stream();
                act = fsm.on_stream_ended(clock::now(), {}, parser.retry());
                continue;
            }
            auto events = parser.feed(chunk);
            if (parser.overflowed()) {
                close_stream();
                act = fsm.on_stream_ended(clock::now(), errc::malformed_response, parser.retry());
                continue;
            }
            for (const auto& ev : events) {
                auto phase = run_phase::unknown;
                if (ev.type == "progress" || ev.type == "complete" || ev.type == "error") {
                    if (auto r = lamina::parse_run(ev.data)) {
                        phase = phase_of(r->status);
                        last = std::move(*r);
                    }
                }
                act = fsm.on_stream_event(clock::now(), ev.type, phase, parser.last_event_id());
                if (act.what != k::read) break;
            }
            continue;
        }
        if (act.what == k::wait || act.what == k::poll) {
            close_stream();
            co_await sleep_until(act.not_before);
            if (stopping) break;
            bool wait = act.what == k::wait;
            auto req = wait ? api_request(verb::get, "/v1/runs/" + run_id + "/wait?timeout=" +
                                                         std::to_string(act.wait_timeout.count()))
                            : api_request(verb::get, "/v1/runs/" + run_id);
            if (wait) req.timeout += std::chrono::duration_cast<std::chrono::milliseconds>(act.wait_timeout);
            auto res = co_await host->async_call(std::move(req), scheduler::priority::track,
                                                 scheduler::retry_mode::idempotent);
            if (stopping || res.ec == errc::shutting_down) break;
            auto phase = run_phase::unknown;
            bool timed_out = false;
            std::error_code ec = res.ec;
            if (!ec) {
                if (wait) {
                    if (auto w = lamina::parse_wait(res.resp.body)) {
                        phase = phase_of(w->first.status);
                        timed_out = w->second;
                        last = std::move(w->first);
                    } else {
                        ec = errc::malformed_response;
                    }
                } else if (auto r = lamina::parse_run(res.resp.body)) {
                    phase = phase_of(r->status);
                    last = std::move(*r);
                } else {
                    ec = errc::malformed_response;
                }
            }
            act = wait ? fsm.on_wait_result(clock::now(), ec, phase, timed_out)
                       : fsm.on_poll_result(clock::now(), ec, phase);
            continue;
        }
        if (act.what == k::done) {
            close_stream();
            log.info("run.finished", {{"job", job_id}, {"item", index}, {"run", run_id},
                                      {"status", last ? last->status : "unknown"},
                                      {"streams", fsm.stream_connects()}});
            run_finished(job_id, index, last ? *last : lamina::run_status{run_id, "failed", {}, "no run payload"},
                         act.phase);
            break;
        }
        // give_up
        close_stream();
        if (auto* job = find(job_id))
            item_failed(*job, index, "lost track of run " + run_id + ": " + act.error.message());
        break;
    }
    close_stream();
    --running_runs;
}

void engine_impl::run_finished(const std::string& job_id, std::size_t index,
                               const lamina::run_status& run, run_phase phase) {
    auto* job = find(job_id);
    if (!job) return;
    auto& it = job->rec.items[index];
    it.run_status = run.status;
    if (phase != run_phase::completed) {
        std::string why = phase == run_phase::cancelled ? "run cancelled" : "run failed";
        if (!run.error_message.empty()) why += ": " + run.error_message;
        item_failed(*job, index, why);
        return;
    }
    auto dir = job_dir(*job);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    it.outputs.clear();
    for (std::size_t o = 0; o < run.outputs.size(); ++o) {
        const auto& src = run.outputs[o];
        jobs::output_record out;
        out.index = o;
        out.label = src.label;
        out.type = src.type;
        out.status = src.status;
        if (src.status != "completed") {
            out.error = "output " + (src.status.empty() ? std::string("missing") : src.status) +
                        (src.error.empty() ? "" : ": " + src.error);
        } else if (src.value_is_url) {
            out.url = src.value;
        } else if (src.value.empty() && src.type != "text") {
            out.error = "output completed without a URL";
        } else {
            // Text content travels in the run payload: write it now, before the run's outputs are
            // recorded as known, so a crash can never lose it.
            auto file = store::output_file_name(index, o, src.label, src.type == "html" ? "html" : "txt");
            if (auto wec = store::write_file_atomic(dir / file, src.value)) {
                out.error = "could not write text output: " + wec.message();
            } else {
                out.file = file;
                out.bytes = src.value.size();
                out.sha256 = store::sha256_hex(src.value);
                out.saved = true;
            }
        }
        it.outputs.push_back(std::move(out));
    }
    it.outputs_known = true;
    persist(*job);
    start_downloads(*job, index);
}

}  // namespace briefd::pipeline::detail
