#include "service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

// GCC 12 mis-pairs Asio's awaitable frame operator new/delete in coroutines and warns
// (-Wmismatched-new-delete, GCC PR 109224); the pair is Asio's own and matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace briefd::sim::webhooks {

namespace json = boost::json;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// How far back a stale delivery's timestamp lies: beyond the documented 300 s window.
constexpr std::int64_t stale_by_s = 400;

bool subscription::wants(std::string_view event) const {
    return active && std::find(events.begin(), events.end(), event) != events.end();
}

namespace {

std::string random_token(std::mt19937_64& g, std::size_t n) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[g() % 36]);
    return s;
}

json::array events_json(const std::vector<std::string>& v) {
    json::array a;
    for (const auto& e : v) a.emplace_back(e);
    return a;
}

/// `v` as a list of event names (strings, 1..max); none otherwise.
std::optional<std::vector<std::string>> events_of(const json::value* v, std::size_t max) {
    if (!v || !v->is_array() || v->get_array().empty() || v->get_array().size() > max)
        return std::nullopt;
    std::vector<std::string> out;
    for (const auto& e : v->get_array()) {
        if (!e.is_string() || e.get_string().empty()) return std::nullopt;
        out.emplace_back(e.get_string());
    }
    return out;
}

std::optional<json::object> parse_object(const request& req) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

response json_reply(http::status s, json::value v) {
    response r{s, 11};
    r.set(http::field::content_type, "application/json");
    r.body() = json::serialize(v);
    r.prepare_payload();
    return r;
}

}  // namespace

service::service(asio::any_io_executor ex, sim_state& st, lamina_signer& signer,
                 lamina::run_engine& runs, hrizn::content_store& content, layers::store& jobs)
    : ex_(ex),
      st_(st),
      signer_(signer),
      runs_(runs),
      content_(content),
      jobs_(jobs),
      queue_(ex, st),
      rng_(st.opt.seed ^ 0x3EB400C5ull) {
    lamina_user_ = sim_state::uuid(rng_);
    set_option_subscriptions();
    runs_.on_webhook_run = [this](lamina::run& r) { spawn(watch_lamina(r)); };
    content_.on_generation = [this](hrizn::item& it) { spawn(watch_hrizn(it)); };
    jobs_.on_job = [this](layers::job& j) { spawn(watch_layers(j)); };
    jobs_.on_cancel = [this](layers::job& j) {
        if (auto it = layers_watch_.find(j.id); it != layers_watch_.end())
            if (auto t = it->second.lock()) t->cancel();
    };
}

service::~service() {
    runs_.on_webhook_run = nullptr;
    content_.on_generation = nullptr;
    jobs_.on_job = nullptr;
    jobs_.on_cancel = nullptr;
}

void service::set_option_subscriptions() {
    const auto& w = st_.opt.webhooks;
    std::erase_if(hrizn_subs_, [](const auto& s) { return s->owner.empty(); });
    std::erase_if(layers_subs_, [](const auto& s) { return s->owner.empty(); });
    if (!w.hrizn_url.empty())
        hrizn_subs_.push_back(make_sub("whk_", "", w.hrizn_url, w.hrizn_events, w.hrizn_secret));
    if (!w.layers_url.empty())
        layers_subs_.push_back(
            make_sub("whe_", "", w.layers_url, w.layers_events, w.layers_secret));
}

std::shared_ptr<subscription> service::make_sub(std::string prefix, const std::string& owner,
                                                std::string url, std::vector<std::string> events,
                                                std::string secret) {
    auto s = std::make_shared<subscription>();
    s->id = std::move(prefix) + random_token(rng_, 16);
    s->owner = owner;
    s->url = std::move(url);
    s->events = std::move(events);
    s->secret = std::move(secret);
    s->created_at = layers::iso_millis(std::chrono::system_clock::now());
    return s;
}

void service::spawn(asio::awaitable<void> work) {
    asio::co_spawn(ex_, std::move(work), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "briefsim: webhook delivery failed: " << x.what() << "\n";
        }
    });
}

webhook_counts& service::counts(provider p) {
    switch (p) {
        case provider::hrizn:
            return st_.counters.webhooks.hrizn;
        case provider::layers:
            return st_.counters.webhooks.layers;
        case provider::lamina:
            break;
    }
    return st_.counters.webhooks.lamina;
}

bool service::draw(provider p, double rate) {
    return (st_.faults.faults_on & provider_bit_of(p)) && st_.chance(rate);
}

std::string service::body_of(provider p, json::value v) {
    if (st_.faults.extra_fields) add_extra_fields(v);
    std::string body = json::serialize(v);
    const auto target = st_.opt.webhooks.oversize_bytes;
    if (draw(p, st_.faults.webhook_oversize) && v.is_object()) {
        // Still valid JSON and correctly signed: only its size is wrong.
        const std::size_t overhead = body.size() + 16;
        v.as_object()["simPadding"] = std::string(target > overhead ? target - overhead : 1, 'x');
        body = json::serialize(v);
        if (body.size() < target) body.append(target - body.size(), ' ');
        ++counts(p).oversized;
    }
    return body;
}

std::vector<std::shared_ptr<subscription>> service::matching(
    const std::vector<std::shared_ptr<subscription>>& subs, std::string_view event,
    const std::string& owner, std::string_view project) const {
    std::vector<std::shared_ptr<subscription>> out;
    for (const auto& s : subs)
        if (s->wants(event) && (s->owner.empty() || owner == "*" || s->owner == owner) &&
            (s->project_id.empty() || s->project_id == project))
            out.push_back(s);
    return out;
}

// --- Lamina ----------------------------------------------------------------------------------

delivery service::lamina_delivery(const lamina::run& r, json::value body) {
    delivery d;
    d.from = provider::lamina;
    d.url = r.webhook_url;
    d.body = body_of(provider::lamina, std::move(body));
    d.policy = lamina_retries();
    d.headers = {{"X-Lamina-Webhook-Request-Id", r.id}, {"X-Lamina-Webhook-User-Id", lamina_user_}};
    auto& c = st_.counters.webhooks.lamina;
    const bool forge = draw(provider::lamina, st_.faults.webhook_forge);
    const bool stale = draw(provider::lamina, st_.faults.webhook_stale);
    c.forged += forge;
    c.stale += stale;
    // Signed at each attempt with the key in force then: a rotation between attempts shows.
    d.sign = [this, forge, stale](std::int64_t now, std::string_view b, http::fields& h) {
        const std::int64_t ts = stale ? now - stale_by_s : now;
        std::string sig = signer_.signature_hex(ts, b);
        if (forge) sig = forge_hex(std::move(sig));
        h.set("X-Lamina-Webhook-Signature", sig);
        h.set("X-Lamina-Webhook-Timestamp", std::to_string(ts));
    };
    return d;
}

asio::awaitable<void> service::watch_lamina(lamina::run& r) {
    auto timer = std::make_shared<asio::steady_timer>(ex_);
    for (;;) {
        const auto now = clock::now();
        if (lamina::is_terminal(r.status_at(now))) break;
        timer->expires_at(r.next_change(now).value_or(now));
        runs_.add_waiter(r, timer);  // a cancel wakes it
        co_await timer->async_wait(use_tuple);
    }
    const auto now = clock::now();
    const auto s = r.status_at(now);
    const auto& w = st_.opt.webhooks;
    if ((s == lamina::run_status::failed && !w.lamina_failed) ||
        (s == lamina::run_status::cancelled && !w.lamina_cancelled))
        co_return;
    // The body is the polling response's shape (PROVIDERS §1.6, the SDK's test fixture).
    delivery d = lamina_delivery(r, json::object{{"data", runs_.status_json(r, now)}});
    // The older status: the run as it was just before it ended (running, outputs pending).
    auto older = [this, &r] {
        auto before = r.ended_at() - std::chrono::milliseconds(1);
        if (before < r.created) before = r.created;
        std::vector<delivery> v;
        v.push_back(lamina_delivery(r, json::object{{"data", runs_.status_json(r, before)}}));
        return v;
    };
    co_await send(std::move(d), older);
}

// --- Hrizn -----------------------------------------------------------------------------------

delivery service::hrizn_delivery(const std::shared_ptr<subscription>& sub, std::string_view type,
                                 const std::string& owner, json::object data) {
    auto& c = st_.counters.webhooks.hrizn;
    const bool forge = draw(provider::hrizn, st_.faults.webhook_forge);
    const bool stale = draw(provider::hrizn, st_.faults.webhook_stale);
    c.forged += forge;
    c.stale += stale;
    auto when = std::chrono::system_clock::now();
    if (stale) when -= std::chrono::seconds(stale_by_s);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    // The site is the key's dealership: a stable UUID per key.
    std::mt19937_64 site_rng(std::hash<std::string>{}(owner));
    json::object env{{"id", "evt_" + std::to_string(ms) + "_" + random_token(rng_, 7)},
                     {"type", type},
                     {"site_id", sim_state::uuid(site_rng)},
                     {"data", std::move(data)},
                     {"timestamp", layers::iso_millis(when)},
                     {"api_version", "2025-01-01"}};
    delivery d;
    d.from = provider::hrizn;
    d.url = sub->url;
    d.body = body_of(provider::hrizn, std::move(env));
    d.policy = hrizn_retries();
    // No timestamp is signed (PROVIDERS §2.4): a stale delivery differs only in its payload.
    d.sign = [sub, forge](std::int64_t, std::string_view b, http::fields& h) {
        h.set("X-Webhook-Signature",
              hrizn_signature(forge ? sub->secret + "-forged" : sub->secret, b));
    };
    return d;
}

asio::awaitable<void> service::watch_hrizn(hrizn::item& it) {
    const auto n = hrizn::component_types.size();
    const std::size_t last = it.fails ? it.fail_index : n - 1;
    asio::steady_timer timer(ex_);
    const std::string owner = it.owner;
    auto progress = [&](std::size_t i, std::string_view stage) {
        return json::object{
            {"article_id", it.id},
            {"article_type", it.article_type},
            {"component_type", hrizn::component_types[i]},
            {"stage", stage},
            {"message", std::string(hrizn::component_types[i]) + " " + std::string(stage)},
            {"progress_percent", static_cast<std::int64_t>(100 * (i + 1) / (n + 1))}};
    };
    // Progress for every component but the last: the terminal event says the rest.
    for (std::size_t i = 0; i < last; ++i) {
        timer.expires_at(it.done_at[i]);
        co_await timer.async_wait(use_tuple);
        for (const auto& sub : matching(hrizn_subs_, "content.progress", owner))
            spawn(send(hrizn_delivery(sub, "content.progress", owner, progress(i, "complete"))));
    }
    timer.expires_at(it.done_at[last]);
    co_await timer.async_wait(use_tuple);
    const bool failed = it.status_at(clock::now()) == hrizn::item_status::failed;
    const std::string_view type = failed ? "content.failed" : "content.completed";
    for (const auto& sub : matching(hrizn_subs_, type, owner)) {
        json::object data{{"article_id", it.id}, {"article_type", it.article_type}};
        if (failed)
            data["error"] = "Generation of the " + std::string(hrizn::component_types[last]) +
                            " component failed";
        auto older = [this, sub, owner, p = progress(last > 0 ? last - 1 : 0, "generating")] {
            std::vector<delivery> v;
            v.push_back(hrizn_delivery(sub, "content.progress", owner, p));
            return v;
        };
        spawn(send(hrizn_delivery(sub, type, owner, std::move(data)), older));
    }
}

// --- Layers ----------------------------------------------------------------------------------

delivery service::layers_delivery(const std::shared_ptr<subscription>& sub, std::string_view type,
                                  json::object data) {
    auto& c = st_.counters.webhooks.layers;
    const bool forge = draw(provider::layers, st_.faults.webhook_forge);
    const bool stale = draw(provider::layers, st_.faults.webhook_stale);
    c.forged += forge;
    c.stale += stale;
    const std::string event_id = layers::prefixed_id("evt_", rng_);
    delivery d;
    d.from = provider::layers;
    d.url = sub->url;
    d.body = body_of(provider::layers,
                     json::object{{"id", event_id}, {"type", type}, {"data", std::move(data)}});
    d.policy = layers_retries();
    d.headers = {{"X-Layers-Event-Id", event_id}};
    d.sign = [sub, forge, stale](std::int64_t now, std::string_view b, http::fields& h) {
        std::vector<std::string> secrets{sub->secret};
        if (!sub->previous_secret.empty()) secrets.push_back(sub->previous_secret);
        if (forge)
            for (auto& s : secrets) s += "-forged";
        h.set("X-Layers-Signature", layers_signature(stale ? now - stale_by_s : now, b, secrets));
    };
    return d;
}

asio::awaitable<void> service::watch_layers(layers::job& j) {
    auto timer = std::make_shared<asio::steady_timer>(ex_);
    layers_watch_[j.id] = timer;
    while (j.status_at(clock::now()) == layers::job_status::running) {
        // A failing job ends with generating_visuals (store.hpp).
        timer->expires_at(j.fails ? j.stage_end[2] : j.stage_end.back());
        co_await timer->async_wait(use_tuple);  // a cancel (on_cancel) wakes it early
    }
    layers_watch_.erase(j.id);
    const auto now = clock::now();
    const auto status = j.status_at(now);
    json::object job = jobs_.job_json(j, now);
    const std::string owner = "*";  // Layers endpoints are the organization's: every job
    json::object data{{"jobId", j.id}, {"kind", job["kind"]}};
    std::string_view type = "job.canceled";
    if (status == layers::job_status::completed) {
        type = "job.completed";
        data["result"] = job["result"];
    } else if (status == layers::job_status::failed) {
        type = "job.failed";
        data["error"] = job["error"];
    }
    for (const auto& sub : matching(layers_subs_, type, owner, j.project_id)) {
        std::vector<delivery> generated;
        if (status == layers::job_status::completed && sub->wants("content.generated"))
            for (auto* c : j.containers) {
                json::object ct = jobs_.container_json(*c, now);
                generated.push_back(layers_delivery(sub, "content.generated",
                                                    json::object{{"id", ct["id"]},
                                                                 {"projectId", ct["projectId"]},
                                                                 {"assets", ct["assets"]}}));
            }
        delivery terminal = layers_delivery(sub, type, data);
        if (draw(provider::layers, st_.faults.webhook_reorder) && !generated.empty()) {
            // Reordered: the job's end first, the containers' content.generated after it.
            auto later = std::make_shared<std::vector<delivery>>(std::move(generated));
            spawn(send(std::move(terminal), [later] { return std::move(*later); }));
            ++st_.counters.webhooks.layers.reordered;
            continue;
        }
        for (auto& g : generated) spawn(send(std::move(g)));
        spawn(send(std::move(terminal)));
    }
    // Subscriptions that want content.generated but not the job's end still get it.
    if (status == layers::job_status::completed)
        for (const auto& sub : matching(layers_subs_, "content.generated", owner, j.project_id))
            if (!sub->wants(type))
                for (auto* c : j.containers) {
                    json::object ct = jobs_.container_json(*c, now);
                    spawn(send(layers_delivery(sub, "content.generated",
                                               json::object{{"id", ct["id"]},
                                                            {"projectId", ct["projectId"]},
                                                            {"assets", ct["assets"]}})));
                }
}

// --- delivery with faults --------------------------------------------------------------------

asio::awaitable<void> service::send(delivery d, std::function<std::vector<delivery>()> older) {
    const provider p = d.from;
    ++counts(p).events;
    if (draw(p, st_.faults.webhook_drop)) {
        ++counts(p).dropped;
        co_return;
    }
    const bool delivered = co_await queue_.async_deliver(d);
    if (delivered && draw(p, st_.faults.webhook_duplicate)) {
        ++counts(p).duplicates;
        co_await queue_.async_deliver(d);
    }
    if (!older) co_return;
    // Layers draws its reordering itself (it changes which event goes first); the others
    // send the older event after the terminal one when the fault fires.
    if (p != provider::layers) {
        if (!draw(p, st_.faults.webhook_reorder)) co_return;
        ++counts(p).reordered;
    }
    for (auto& o : older()) co_await queue_.async_deliver(std::move(o));
}

// --- control ---------------------------------------------------------------------------------

handler_result service::control(const request& req) {
    auto& w = st_.opt.webhooks;
    auto sub_json = [](const subscription& s) {
        json::object o{{"id", s.id},
                       {"url", s.url},
                       {"events", events_json(s.events)},
                       {"active", s.active},
                       {"rotating", !s.previous_secret.empty()}};
        if (!s.owner.empty()) o["by_api"] = true;
        return o;
    };
    auto state = [&] {
        json::array h, l;
        for (const auto& s : hrizn_subs_) h.push_back(sub_json(*s));
        for (const auto& s : layers_subs_) l.push_back(sub_json(*s));
        json::array on{"completed"};
        if (w.lamina_failed) on.emplace_back("failed");
        if (w.lamina_cancelled) on.emplace_back("cancelled");
        return json::object{
            {"lamina", {{"kid", signer_.kid()}, {"x", signer_.x()}, {"on", std::move(on)}}},
            {"hrizn", std::move(h)},
            {"layers", std::move(l)},
            {"timeout_s", w.timeout_s},
            {"oversize_bytes", w.oversize_bytes}};
    };
    if (req.method() == http::verb::get) return json_reply(http::status::ok, state());
    if (req.method() != http::verb::post)
        return json_reply(http::status::method_not_allowed, {{"error", "GET or POST"}});
    auto body = parse_object(req);
    if (!body)
        return json_reply(http::status::bad_request, {{"error", "body must be a JSON object"}});
    auto bad = [](std::string msg) {
        return json_reply(http::status::bad_request, {{"error", std::move(msg)}});
    };
    // Validate everything first, then apply: atomic.
    webhook_settings next = w;
    bool rotate_key = false, end_rotation = false;
    std::string layers_new_secret;
    auto provider_sub = [&](const char* name, std::string& url, std::string& secret,
                            std::vector<std::string>& events) -> std::optional<std::string> {
        const auto* v = body->if_contains(name);
        if (!v) return std::nullopt;
        if (v->is_null()) {
            url.clear();
            return std::nullopt;
        }
        if (!v->is_object()) return std::string(name) + " must be an object or null";
        const auto& o = v->get_object();
        if (const auto* u = o.if_contains("url")) {
            if (!u->is_string() || !u->get_string().starts_with("http://"))
                return std::string(name) + ".url must be an http:// URL";
            url = std::string(u->get_string());
        }
        if (const auto* s = o.if_contains("secret")) {
            if (!s->is_string() || s->get_string().empty())
                return std::string(name) + ".secret must be a non-empty string";
            secret = std::string(s->get_string());
        }
        if (o.contains("events")) {
            auto e = events_of(o.if_contains("events"), 50);
            if (!e) return std::string(name) + ".events must be 1..50 event names";
            events = std::move(*e);
        }
        return std::nullopt;
    };
    for (const auto& [key, v] : *body) {
        if (key == "hrizn" || key == "layers") continue;
        if (key == "lamina_rotate_key") {
            if (!v.is_bool()) return bad("lamina_rotate_key must be a boolean");
            rotate_key = v.get_bool();
        } else if (key == "lamina_on") {
            if (!v.is_string() || !parse_lamina_on(v.get_string(), next))
                return bad("lamina_on: a comma list of completed, failed, cancelled");
        } else if (key == "layers_rotate_secret") {
            if (!v.is_string() || v.get_string().empty())
                return bad("layers_rotate_secret must be the new secret");
            layers_new_secret = std::string(v.get_string());
        } else if (key == "layers_end_rotation") {
            if (!v.is_bool()) return bad("layers_end_rotation must be a boolean");
            end_rotation = v.get_bool();
        } else if (key == "timeout_s") {
            if (!v.is_number() || v.to_number<double>() <= 0)
                return bad("timeout_s must be a positive number");
            next.timeout_s = v.to_number<double>();
        } else if (key == "oversize_bytes") {
            if (!v.is_number() || v.to_number<double>() < 1)
                return bad("oversize_bytes must be a positive integer");
            next.oversize_bytes = v.to_number<std::uint64_t>();
        } else {
            return bad("unknown member: " + std::string(key));
        }
    }
    if (auto e = provider_sub("hrizn", next.hrizn_url, next.hrizn_secret, next.hrizn_events))
        return bad(*e);
    if (auto e = provider_sub("layers", next.layers_url, next.layers_secret, next.layers_events))
        return bad(*e);

    const bool subs_changed = body->contains("hrizn") || body->contains("layers");
    w = next;
    if (subs_changed) set_option_subscriptions();
    if (rotate_key) signer_.rotate();
    for (auto& s : layers_subs_) {
        if (!layers_new_secret.empty()) {
            s->previous_secret = s->secret;
            s->secret = layers_new_secret;
            if (s->owner.empty()) w.layers_secret = layers_new_secret;
        }
        if (end_rotation) s->previous_secret.clear();
    }
    return json_reply(http::status::ok, state());
}

// --- the providers' own subscription endpoints -----------------------------------------------

std::shared_ptr<subscription> service::sub_from_request(const request& req, std::string prefix,
                                                        const std::string& owner,
                                                        bool with_project) {
    auto body = parse_object(req);
    const json::value* url = body ? body->if_contains("url") : nullptr;
    auto events = events_of(body ? body->if_contains("events") : nullptr, 50);
    // The docs ask for https; briefsim also takes http:// so it can reach a loopback test
    // receiver (deliveries go to loopback only anyway).
    if (!url || !url->is_string() ||
        !(url->get_string().starts_with("https://") || url->get_string().starts_with("http://")) ||
        !events)
        return nullptr;
    auto s = make_sub(std::move(prefix), owner, std::string(url->get_string()), std::move(*events),
                      "whsec_" + random_token(rng_, 32));
    if (const auto* d = body->if_contains("description"); d && d->is_string())
        s->description = std::string(d->get_string());
    if (const auto* p = body->if_contains("projectId"); with_project && p && p->is_string())
        s->project_id = std::string(p->get_string());
    return s;
}

std::optional<response> service::hrizn_endpoint(const request& req, std::string_view path,
                                                const std::string& owner) {
    if (path != "/webhooks" && !path.starts_with("/webhooks/")) return std::nullopt;
    auto error = [](http::status s, std::string_view code, std::string_view message) {
        return json_reply(s, json::object{{"error", {{"code", code}, {"message", message}}}});
    };
    auto data_of = [](const subscription& s, bool with_secret) {
        json::object o{{"id", s.id},
                       {"url", s.url},
                       {"events", events_json(s.events)},
                       {"is_active", s.active},
                       {"description", s.description},
                       {"created_at", s.created_at}};
        if (with_secret) o["secret"] = s.secret;
        return o;
    };
    auto find = [&](std::string_view id) -> std::shared_ptr<subscription> {
        for (const auto& s : hrizn_subs_)
            if (s->id == id && s->owner == owner) return s;
        return nullptr;
    };
    const auto m = req.method();
    if (path == "/webhooks") {
        if (m == http::verb::get) {
            json::array a;
            for (const auto& s : hrizn_subs_)
                if (s->owner == owner) a.push_back(data_of(*s, false));
            return json_reply(http::status::ok, json::object{{"data", std::move(a)}});
        }
        if (m != http::verb::post)
            return error(http::status::method_not_allowed, "method_not_allowed",
                         "Method not allowed.");
        auto s = sub_from_request(req, "wh_", owner, false);
        if (!s)
            return error(http::status::bad_request, "validation_error",
                         "url (https) and events (at least one) are required.");
        hrizn_subs_.push_back(s);
        return json_reply(http::status::created, json::object{{"data", data_of(*s, true)}});
    }
    const std::string_view id = path.substr(std::string_view("/webhooks/").size());
    auto s = find(id);
    if (!s) return error(http::status::not_found, "not_found", "Webhook not found.");
    if (m == http::verb::get)
        return json_reply(http::status::ok, json::object{{"data", data_of(*s, false)}});
    if (m == http::verb::delete_) {
        std::erase(hrizn_subs_, s);
        return json_reply(http::status::ok,
                          json::object{{"data", {{"id", s->id}, {"deleted", true}}}});
    }
    if (m == http::verb::patch) {
        auto body = parse_object(req);
        if (!body)
            return error(http::status::bad_request, "validation_error",
                         "Request body must be a JSON object.");
        subscription next = *s;
        if (const auto* u = body->if_contains("url")) {
            if (!u->is_string())
                return error(http::status::bad_request, "validation_error", "url: a URL.");
            next.url = std::string(u->get_string());
        }
        if (body->contains("events")) {
            auto e = events_of(body->if_contains("events"), 50);
            if (!e)
                return error(http::status::bad_request, "validation_error",
                             "events: at least one event.");
            next.events = std::move(*e);
        }
        if (const auto* a = body->if_contains("is_active")) {
            if (!a->is_bool())
                return error(http::status::bad_request, "validation_error",
                             "is_active: a boolean.");
            next.active = a->get_bool();
        }
        if (const auto* d = body->if_contains("description"); d && d->is_string())
            next.description = std::string(d->get_string());
        *s = std::move(next);
        return json_reply(http::status::ok, json::object{{"data", data_of(*s, false)}});
    }
    return error(http::status::method_not_allowed, "method_not_allowed", "Method not allowed.");
}

std::optional<response> service::layers_endpoint(const request& req, std::string_view path,
                                                 const std::string& owner) {
    if (path != "/v1/webhook-endpoints" && !path.starts_with("/v1/webhook-endpoints/"))
        return std::nullopt;
    auto error = [](http::status s, std::string_view code, std::string_view message) {
        return json_reply(
            s, json::object{
                   {"error", {{"code", code}, {"message", message}, {"details", json::object{}}}}});
    };
    auto endpoint_of = [](const subscription& s) {
        return json::object{
            {"id", s.id},
            {"url", s.url},
            {"events", events_json(s.events)},
            {"description", s.description},
            {"projectId", s.project_id.empty() ? json::value(nullptr) : json::value(s.project_id)},
            {"status", s.active ? "active" : "paused"},
            {"createdAt", s.created_at}};
    };
    const auto m = req.method();
    if (path == "/v1/webhook-endpoints") {
        if (m == http::verb::get) {
            json::array a;
            for (const auto& s : layers_subs_)
                if (s->owner == owner) a.push_back(endpoint_of(*s));
            return json_reply(http::status::ok, json::object{{"items", std::move(a)}});
        }
        if (m != http::verb::post)
            return error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                         "Method not allowed.");
        auto s = sub_from_request(req, "whe_", owner, true);
        if (!s)
            return error(http::status::bad_request, "VALIDATION_FAILED",
                         "url and events (1 to 50) are required.");
        layers_subs_.push_back(s);
        return json_reply(http::status::created, json::object{{"endpoint", endpoint_of(*s)},
                                                              {"signingSecret", s->secret}});
    }
    const std::string_view id = path.substr(std::string_view("/v1/webhook-endpoints/").size());
    std::shared_ptr<subscription> s;
    for (const auto& x : layers_subs_)
        if (x->id == id && x->owner == owner) s = x;
    if (!s) return error(http::status::not_found, "NOT_FOUND", "Webhook endpoint not found.");
    if (m == http::verb::get) return json_reply(http::status::ok, endpoint_of(*s));
    if (m == http::verb::delete_) {
        std::erase(layers_subs_, s);
        return json_reply(http::status::ok, json::object{{"id", s->id}, {"deleted", true}});
    }
    return error(http::status::method_not_allowed, "METHOD_NOT_ALLOWED", "Method not allowed.");
}

}  // namespace briefd::sim::webhooks
