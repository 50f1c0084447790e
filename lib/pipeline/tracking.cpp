// The driver of tracker_fsm for one run: carries out its actions (open the SSE stream and read it,
// wait, poll) through the provider's slot, and reports what happened back to it. Providers whose
// list shows many runs at once are tracked by list_tracking.cpp instead.
#include "pipeline/run_tracking.hpp"

#include "pipeline/detail/provider_slot.hpp"

#include "sse/parser.hpp"
#include "store/atomic_file.hpp"
#include "store/paths.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

namespace briefd::pipeline::detail {

namespace asio = boost::asio;
using verb = boost::beast::http::verb;
using clock = job_services::clock;
using providers::run_phase;

run_tracking::run_tracking(asio::any_io_executor ex, job_services& svc, logger& log,
                           std::uint64_t seed, run_tracking_port port)
    : ex_(ex), svc_(svc), log_(log), rng_(seed), port_(std::move(port)) {}

std::size_t run_tracking::streams_open(std::string_view provider) const {
    auto it = streams_.find(provider);
    return it == streams_.end() ? 0 : it->second;
}

void run_tracking::run_ended(provider_slot& slot) {
    --running_;
    slot.host->run_ended();  // its place of the concurrent-jobs gate is free again
}

void run_tracking::close_streams() {
    for (auto* s : open_streams_) s->close();
}

void run_tracking::stop() {
    for (auto& [name, ch] : list_channels_) ch.second->wake.cancel();
    close_streams();
}

void run_tracking::note_view(const std::string& job_id, std::size_t index,
                             const providers::run_view& v) {
    if (port_.note_view) port_.note_view(job_id, index, v);
}

void run_tracking::start(job_ctx& job, std::size_t index) {
    auto* slot = svc_.slot_of(job);
    const auto& run_id = job.rec.items[index].run_id;
    if (!slot || !slot->api.valid_run_id(run_id)) {
        // A state file edited by hand, or a provider that changed its id format mid-flight.
        svc_.item_failed(job, index,
                         "run id " + diagnostics::clean(run_id, 64) +
                             " is not one briefd will use in a request");
        return;
    }
    if (job.cancelled) {
        // Accepted after the operator cancelled the job (the submission was on the wire).
        svc_.spawn(
            [](asio::awaitable<bool> cancel) -> asio::awaitable<void> {
                co_await std::move(cancel);
            }(port_.cancel_run(*slot, run_id)),
            false);
        svc_.item_failed(job, index, "cancelled by operator");
        return;
    }
    ++running_;
    slot->host->run_tracked();  // holds a place of the concurrent-jobs gate until it ends
    if (port_.tracked_by_webhook(*slot, svc_.item_of(job, index))) {
        port_.track_by_webhook(*slot, job, index);
        return;
    }
    if (slot->uses_list(slot->api.channels(svc_.item_of(job, index)))) {
        track_by_list(*slot, job, index);
        return;
    }
    svc_.spawn(track_run(*slot, job.rec.job_id, index, run_id), false);
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

/// A view that names a run, and not `ours` (ids compared without regard to case: a UUID may come
/// back upper-case). A view that names none is about the run asked for.
bool about_other_run(const providers::run_view& v, std::string_view ours) {
    return !v.run_id.empty() && !boost::beast::iequals(v.run_id, ours);
}
}  // namespace

bool run_tracking::on_run_view(const std::string& job_id, std::size_t index,
                               const providers::run_view& view, bool& input_sent) {
    auto* job = svc_.find(job_id);
    if (!job) return false;
    note_view(job_id, index, view);
    if (providers::is_terminal(view.phase)) {
        run_finished(job_id, index, view);
        return false;
    }
    if (view.phase == providers::run_phase::awaiting_input && !input_sent) {
        auto* slot = svc_.slot_of(*job);
        std::string why;
        if (!slot || !slot->api.provide_input(
                         svc_.item_of(*job, index),
                         view.run_id.empty() ? job->rec.items[index].run_id : view.run_id, why)) {
            svc_.item_failed(*job, index,
                             why.empty() ? "the run waits for input briefd cannot give" : why);
            return false;
        }
        input_sent = true;
        svc_.spawn(supply_input(job_id, index, job->rec.items[index].run_id), true);
    }
    return true;
}

asio::awaitable<void> run_tracking::supply_input(std::string job_id, std::size_t index,
                                                 std::string run_id) {
    auto* job = svc_.find(job_id);
    if (!job) co_return;
    auto* slot = svc_.slot_of(*job);
    std::string why;
    auto call = slot->api.provide_input(svc_.item_of(*job, index), run_id, why);
    if (!call) co_return;
    // The same item always sends the same key, so a repeated request after a crash is replayed.
    if (auto h = slot->api.idempotency_header(); !h.empty())
        call->headers.emplace_back(
            h, providers::idempotency_key(slot->name() + "/input", {{job_id, index}}));
    auto res = co_await slot->host->async_call(slot->request(*call), scheduler::priority::submit,
                                               scheduler::retry_mode::idempotent);
    if (svc_.stopping() || res.ec == errc::shutting_down) co_return;
    if (res.ec) {
        // The next status that still says awaiting_input asks again (a lost answer is harmless:
        // the provider replays it under the same key); a refusal is final.
        if (auto* j = svc_.find(job_id); j && !is_retryable(res.ec))
            svc_.item_failed(
                *j, index,
                "could not supply the run's input (" + std::to_string(res.resp.status) + ")",
                res.diag);
        co_return;
    }
    log_.info("run.input_supplied", {{"job", job_id}, {"item", index}, {"run", run_id}});
}

asio::awaitable<void> run_tracking::track_run(provider_slot& slot_ref, std::string job_id,
                                              std::size_t index, std::string run_id) {
    auto* slot = &slot_ref;  // slots live as long as the engine
    auto* job0 = svc_.find(job_id);
    if (!job0) {  // filed (cancelled) before this task began
        run_ended(*slot);
        co_return;
    }
    const auto& api = slot->api;
    auto tcfg = slot->tracker_cfg(api.channels(svc_.item_of(*job0, index)));
    // A provider with a documented polling schedule (Layers: 2 s ×1.3 up to 10 s + jitter) sets
    // the pace of polls itself; the fsm still adds its backoff after failures.
    std::mt19937_64 schedule_rng(rng_());
    const bool scheduled = api.poll_delay(0, schedule_rng).has_value();
    if (scheduled) tcfg.poll_interval = clock::duration::zero();
    const unsigned tcfg_scale = slot->cfg.tracking.schedule_scale;  // a time-scaled test's pace
    unsigned polls_done = 0;
    tracker_fsm fsm(tcfg, rng_());
    std::unique_ptr<http::client::body_stream> stream;
    sse::parser parser;
    std::optional<providers::run_view> last;
    bool input_sent = false;
    unsigned stream_opens = 0;
    auto close_stream = [&] {
        if (stream) {
            --streams_[slot->name()];
            open_streams_.erase(stream.get());
            stream->close();
            stream.reset();
        }
    };
    auto act = fsm.start(clock::now());
    log_.debug("run.tracking", {{"job", job_id}, {"item", index}, {"run", run_id}});
    // A view that names another run: logged, and never taken for this one.
    const auto foreign_view = [&](const providers::run_view& v, std::string_view via) {
        log_.warning("run.foreign_view", {{"job", job_id},
                                          {"item", index},
                                          {"run", run_id},
                                          {"names", diagnostics::clean(v.run_id, 64)},
                                          {"via", via}});
    };
    // A stream must deliver a complete event within the idle deadline: bytes that never finish a
    // line (a trickling peer) do not keep it alive.
    auto event_deadline = clock::time_point::max();

    auto still_wanted = [&] {  // a cancelled job's runs are tracked no further
        auto* j = svc_.find(job_id);
        return j && j->rec.items[index].state == jobs::item_state::submitted;
    };
    while (!svc_.stopping() && still_wanted()) {
        using k = tracker_action::kind;
        if (act.what == k::open_stream) {
            close_stream();
            co_await svc_.nap_until(act.not_before);
            if (svc_.stopping()) break;
            scheduler::clock::time_point sent_at{};
            if (co_await slot->host->async_acquire(scheduler::priority::track, {}, &sent_at)) break;
            auto req = slot->request(api.stream(run_id));
            req.headers.emplace_back("Cache-Control", "no-store");
            if (!act.last_event_id.empty())
                req.headers.emplace_back("Last-Event-ID", act.last_event_id);
            auto [ec, s] = co_await slot->client.async_open(std::move(req));
            if (svc_.stopping()) break;
            port_.stream_opened(slot->name(), ec ? 0u : s->status(), stream_opens++ > 0);
            if (ec) {
                act = fsm.on_stream_ended(clock::now(), ec, parser.retry());
                continue;
            }
            auto cls = slot->host->observe(s->status(), s->headers(), {}, sent_at);
            if (cls == errc::rate_limited || slot->host->blocked())
                continue;  // same action after the pause
            if (s->status() == 404) {
                act = fsm.on_stream_refused(clock::now(), errc::not_found);
                continue;
            }
            if (s->status() != 200 || !is_event_stream(s->headers())) {
                log_.info("run.stream_refused", {{"run", run_id}, {"status", s->status()}});
                act = fsm.on_stream_refused(clock::now());
                continue;
            }
            stream = std::move(s);
            ++streams_[slot->name()];
            open_streams_.insert(stream.get());
            parser.reset_connection();
            act.what = k::read;
            act.idle_timeout = tcfg.sse_idle_timeout;
            event_deadline = clock::now() + tcfg.sse_idle_timeout;
        }
        if (act.what == k::read) {
            if (!stream) {  // defensive: the fsm asked to read with no stream open
                act = fsm.on_stream_ended(clock::now(), errc::sse_stream_ended, parser.retry());
                continue;
            }
            auto left = event_deadline - clock::now();
            auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::min<clock::duration>(act.idle_timeout, left));
            if (idle <= std::chrono::milliseconds::zero()) {
                close_stream();
                act = fsm.on_stream_ended(clock::now(), errc::sse_idle_timeout, parser.retry());
                continue;
            }
            auto [ec, chunk] = co_await stream->async_read_some(idle);
            if (svc_.stopping()) break;
            if (ec) {
                close_stream();
                act = fsm.on_stream_ended(clock::now(),
                                          ec == errc::read_timeout ? errc::sse_idle_timeout : ec,
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
            if (!events.empty() || chunk.find_first_of("\r\n") != std::string_view::npos)
                event_deadline = clock::now() + tcfg.sse_idle_timeout;
            for (auto& ev : events) {
                slot->client.redact(ev.data);  // an echoed key stays out of errors and logs
                auto phase = run_phase::unknown;
                if (auto v = api.parse_event(ev.type, ev.data); v && !about_other_run(*v, run_id)) {
                    phase = v->phase;
                    last = std::move(*v);
                    note_view(job_id, index, *last);
                } else if (v) {
                    // Another run's state on this run's stream: never taken for this run's (its
                    // outputs would be filed under the wrong item). The event says nothing.
                    foreign_view(*v, "stream");
                }
                act = fsm.on_stream_event(clock::now(), ev.type, phase, parser.last_event_id());
                if (act.what != k::read) break;
            }
            continue;
        }
        if (act.what == k::wait || act.what == k::poll) {
            close_stream();
            bool wait = act.what == k::wait;
            if (!wait && scheduled)
                if (auto d = api.poll_delay(polls_done, schedule_rng))
                    act.not_before =
                        std::max(act.not_before, clock::now() + *d / std::max(1u, tcfg_scale));
            co_await svc_.nap_until(act.not_before);
            if (svc_.stopping()) break;
            if (!wait) ++polls_done;
            auto req =
                slot->request(wait ? api.wait(run_id, act.wait_timeout)
                                   : api.status_since(run_id, last ? std::string_view(last->etag)
                                                                   : std::string_view{}));
            if (wait)
                req.timeout +=
                    std::chrono::duration_cast<std::chrono::milliseconds>(act.wait_timeout);
            auto res = co_await slot->host->async_call(std::move(req), scheduler::priority::track,
                                                       scheduler::retry_mode::idempotent);
            if (svc_.stopping() || res.ec == errc::shutting_down) break;
            auto phase = run_phase::unknown;
            bool timed_out = false;
            std::error_code ec = res.ec;
            if (!wait && res.resp.status == 304 && last) {
                // Not modified since the ETag we sent: the last view stands.
                ec = {};
                phase = last->phase;
            } else if (!ec) {
                if (wait) {
                    if (auto w = api.parse_wait(res.resp.body); w && about_other_run(w->first, run_id)) {
                        foreign_view(w->first, "wait");
                        ec = errc::malformed_response;
                    } else if (w) {
                        phase = w->first.phase;
                        timed_out = w->second;
                        last = std::move(w->first);
                    } else {
                        ec = errc::malformed_response;
                    }
                } else if (auto r = api.parse_status_response(res.resp.status, res.resp.headers,
                                                              res.resp.body)) {
                    phase = r->phase;
                    last = std::move(*r);
                } else {
                    ec = errc::malformed_response;
                }
            }
            if (!ec && last) note_view(job_id, index, *last);
            if (!ec && last && phase == run_phase::awaiting_input) {
                if (!on_run_view(job_id, index, *last, input_sent)) break;
            }
            act = wait ? fsm.on_wait_result(clock::now(), ec, phase, timed_out)
                       : fsm.on_poll_result(clock::now(), ec, phase);
            continue;
        }
        if (act.what == k::done) {
            close_stream();
            log_.info("run.finished", {{"job", job_id},
                                       {"item", index},
                                       {"run", run_id},
                                       {"status", last ? last->status : "unknown"},
                                       {"streams", fsm.stream_connects()}});
            providers::run_view v;
            if (last)
                v = std::move(*last);
            else
                v.error = "no run payload";
            v.run_id = run_id;
            v.phase = act.phase;
            on_run_view(job_id, index, v, input_sent);
            break;
        }
        // give_up
        close_stream();
        if (auto* job = svc_.find(job_id))
            svc_.item_failed(*job, index,
                             "lost track of run " + run_id + ": " + act.error.message());
        break;
    }
    close_stream();
    run_ended(*slot);
}

void run_tracking::run_finished(const std::string& job_id, std::size_t index,
                                const providers::run_view& run) {
    auto* job = svc_.find(job_id);
    if (!job) return;
    auto* slot = svc_.slot_of(*job);
    auto& it = job->rec.items[index];
    auto settled = settle_run(it, run);
    if (settled.what == run_settlement::kind::duplicate) return;
    it.run_status = std::move(settled.run_status);
    if (settled.what == run_settlement::kind::failed) {
        svc_.item_failed(*job, index, std::move(settled.why));
        return;
    }
    if (slot) {
        auto calls = slot->api.expand(svc_.item_of(*job, index), run, it.children);
        if (!calls.empty()) {
            svc_.spawn(expand_outputs(job_id, index, run, std::move(calls)), true);
            return;
        }
    }
    record_outputs(job_id, index, run);
}

asio::awaitable<void> run_tracking::expand_outputs(std::string job_id, std::size_t index,
                                                   providers::run_view run,
                                                   std::vector<providers::api_call> calls) {
    // The run's outputs live elsewhere (Layers: one container per variant): one GET each, through
    // the scheduler; a part that is not ready yet is asked again on the provider's schedule.
    constexpr unsigned max_tries = 6;
    std::vector<providers::output_view> outs;
    std::mt19937_64 schedule_rng(rng_());
    for (std::size_t k = 0; k < calls.size(); ++k) {
        std::string why;
        std::optional<std::vector<providers::output_view>> part;
        for (unsigned t = 0; t < max_tries && !part; ++t) {
            auto* job = svc_.find(job_id);
            auto* slot = job ? svc_.slot_of(*job) : nullptr;
            if (!slot || svc_.stopping())
                co_return;  // recovery tracks the run again and expands anew
            if (t > 0) {
                co_await svc_.nap(
                    slot->api.poll_delay(t, schedule_rng).value_or(std::chrono::seconds(2)));
                if (svc_.stopping() || !svc_.find(job_id)) co_return;
            }
            auto res =
                co_await slot->host->async_call(slot->request(calls[k]), scheduler::priority::track,
                                                scheduler::retry_mode::idempotent);
            if (svc_.stopping() || res.ec == errc::shutting_down) co_return;
            if (res.ec) {
                why = "could not fetch the run's outputs: " + std::string(res.ec.message()) +
                      (res.diag.message.empty() ? "" : ": " + res.diag.message);
                if (!is_retryable(res.ec)) break;
                continue;
            }
            part = slot->api.parse_expansion(k, res.resp.body, why);
        }
        if (!part) {
            if (auto* job = svc_.find(job_id))
                svc_.item_failed(*job, index, why.empty() ? "outputs could not be fetched" : why);
            co_return;
        }
        outs.insert(outs.end(), std::make_move_iterator(part->begin()),
                    std::make_move_iterator(part->end()));
    }
    run.outputs = std::move(outs);
    record_outputs(job_id, index, run);
}

void run_tracking::record_outputs(const std::string& job_id, std::size_t index,
                                  const providers::run_view& run) {
    auto* job = svc_.find(job_id);
    if (!job) return;
    auto* slot = svc_.slot_of(*job);
    auto& it = job->rec.items[index];
    if (it.state != jobs::item_state::submitted || it.outputs_known) return;
    // outputs/<job>/ is not made here: whoever first writes into it makes it, durably and off
    // the loop for downloads (store::output_dir::open) and filing (the manifest). Only a text
    // output, written right here, needs it now.
    auto dir = svc_.job_dir(*job);
    std::optional<std::error_code> dir_made;
    it.outputs.clear();
    auto views = slot ? slot->api.outputs(svc_.item_of(*job, index), run) : run.outputs;
    for (std::size_t o = 0; o < views.size(); ++o) {
        const auto& src = views[o];
        jobs::output_record out;
        out.index = o;
        out.label = src.label;
        out.type = src.type;
        out.status = src.status;
        out.ext = src.ext;
        out.expected_bytes = src.size_bytes.value_or(0);
        out.expected_sha256 = src.sha256;
        if (!src.meta.empty()) out.meta_json = boost::json::serialize(src.meta);
        if (src.status != "completed") {
            out.error = src.error.empty() ? "output " + src.status : src.error;
        } else if (src.fetch && slot) {
            out.fetch = true;
            out.url = slot->request(*src.fetch).url.buffer();
        } else if (!src.url.empty()) {
            out.url = src.url;
        } else if (src.text) {
            // Text content travels in the run payload: write it now, before the run's outputs are
            // recorded as known, so a crash can never lose it.
            auto file =
                store::output_file_name(index, o, src.label, src.ext.empty() ? "txt" : src.ext);
            if (!dir_made) dir_made = store::make_dir_durable(dir);
            auto wec = *dir_made ? *dir_made : store::write_file_atomic(dir / file, *src.text);
            if (wec) {
                out.error = "could not write text output: " + wec.message();
            } else {
                out.file = file;
                out.bytes = src.text->size();
                out.sha256 = store::sha256_hex(*src.text);
                out.saved = true;
            }
        } else {
            out.error = "output completed without a URL";
        }
        it.outputs.push_back(std::move(out));
    }
    it.outputs_known = true;
    svc_.persist(*job);
    port_.start_downloads(*job, index);
}

}  // namespace briefd::pipeline::detail
