// One configured provider's client and scheduler host.
#include "pipeline/detail/provider_slot.hpp"

#include <boost/url/parse.hpp>

namespace briefd::pipeline::detail {

namespace {
http::client_options client_opts(const config::provider_config& p) {
    http::client_options o;
    o.ca_file = p.ca_file;
    o.trust_system_store = !p.ca_file_only;
    o.connect_timeout = p.timeouts.connect;
    // Downloads run up to max_concurrent_downloads at once on one CDN origin; each should find a
    // kept-alive connection when it starts. Parking only the client's default 4 closed most of
    // them after every transfer (48 downloads on 8 places opened 28 connections).
    o.max_idle_per_origin = max_idle_connections_per_origin;
    o.proxy = p.proxy.from_environment ? http::proxy_options::from_environment()
                                       : http::proxy_options{p.proxy.url, p.proxy.url, p.proxy.no_proxy};
    return o;
}

std::map<std::string, scheduler::bucket_limits, std::less<>> class_limits(const config::provider_config& p) {
    std::map<std::string, scheduler::bucket_limits, std::less<>> out;
    for (const auto& [name, l] : p.rate_limit_classes) out[name] = {l.requests, l.per_seconds, l.per_day};
    return out;
}
}  // namespace

provider_slot::provider_slot(asio::any_io_executor ex, const providers::provider& api_,
                             config::provider_config cfg_, const secret* key, logger& log,
                             std::uint64_t seed)
    : api(api_),
      cfg(std::move(cfg_)),
      client(ex, client_opts(cfg)) {
    if (auto u = boost::urls::parse_uri(cfg.base_url)) base_url = *u;
    if (key) set_key(*key);
    scheduler::host_options ho;
    ho.requests = cfg.rate_limit.requests;
    ho.window = cfg.rate_limit.per_seconds;
    ho.per_day = cfg.rate_limit.per_day;
    ho.backoff = {cfg.retry.base, cfg.retry.cap};
    ho.max_attempts = cfg.retry.max_attempts;
    ho.probe = request(api.probe());
    if (!api.bucket_class_header().empty()) {
        // The provider classes each request by method and path (relative to base_url, as it built
        // it); the responses name the class their rate-limit headers describe.
        ho.classes = class_limits(cfg);
        ho.class_header = std::string(api.bucket_class_header());
        ho.bucket_of = [p = &api, base = base_url](const http::request& r) {
            providers::api_call c;
            c.method = r.method;
            std::size_t skip = 0;
            for (auto s : boost::urls::url_view(base).segments()) skip += !s.empty();
            for (auto s : boost::urls::url_view(r.url).segments())
                if (skip > 0)
                    --skip;
                else
                    c.segments.emplace_back(s);
            return std::string(p->bucket_class(c));
        };
    }
    ho.max_concurrent_jobs = cfg.max_concurrent_jobs;
    ho.concurrency_refusal = [p = &api](unsigned status, std::string_view body) {
        return p->concurrency_refusal(status, body);
    };
    host = std::make_unique<scheduler::host>(
        ex, client, log, cfg.name, ho,
        [p = &api](unsigned status, std::string_view body, diagnostics& d) {
            return p->classify_error(status, body, d);
        },
        seed);
}

void provider_slot::set_key(const secret& key) {
    if (auto o = http::origin::from_url(base_url))
        client.set_credential(*o, api.credential_header(),
                              secret(api.credential_value(key.reveal())));
}

http::request provider_slot::request(const providers::api_call& c) const {
    http::request r;
    r.method = c.method;
    r.url = providers::url_for(base_url, c);
    r.headers.emplace_back("Accept", "application/json");
    if (!c.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    for (const auto& h : c.headers) {
        std::erase_if(r.headers,
                      [&](const auto& e) { return boost::beast::iequals(e.first, h.first); });
        r.headers.push_back(h);
    }
    r.body = c.body;
    r.timeout = cfg.timeouts.request;
    return r;
}

bool provider_slot::uses_list(unsigned channels) const {
    if (!(channels & providers::channel_list) || !cfg.tracking.list) return false;
    auto m = cfg.tracking.mode;
    return m == config::tracking_mode::auto_ || m == config::tracking_mode::poll ||
           m == config::tracking_mode::webhook;
}

tracker_config provider_slot::tracker_cfg(unsigned channels) const {
    tracker_config t;
    const auto& c = cfg.tracking;
    switch (c.mode) {
        case config::tracking_mode::auto_:
        case config::tracking_mode::webhook:  // its request-based fallback is auto's
            t.mode = tracking_mode::auto_;
            break;
        case config::tracking_mode::sse:
            t.mode = tracking_mode::sse;
            break;
        case config::tracking_mode::wait:
            t.mode = tracking_mode::wait;
            break;
        case config::tracking_mode::poll:
            t.mode = tracking_mode::poll;
            break;
    }
    // A channel the provider does not offer is never asked for.
    if (!(channels & providers::channel_sse) &&
        (t.mode == tracking_mode::auto_ || t.mode == tracking_mode::sse))
        t.mode = (channels & providers::channel_wait) ? tracking_mode::wait : tracking_mode::poll;
    if (!(channels & providers::channel_wait) && t.mode == tracking_mode::wait)
        t.mode = tracking_mode::poll;
    t.poll_interval = c.poll_interval;
    t.wait_timeout = c.wait_timeout;
    t.sse_idle_timeout = c.sse_idle_timeout;
    t.sse_max_failures = c.sse_max_failures;
    t.reconnect_base = cfg.retry.base;
    t.reconnect_cap = cfg.retry.cap;
    return t;
}

void provider_slot::reload(const config::provider_config& n) {
    cfg.rate_limit = n.rate_limit;
    cfg.batch.linger = n.batch.linger;
    cfg.batch.max_items = n.batch.max_items;
    cfg.tracking = n.tracking;
    cfg.retry = n.retry;
    cfg.api_key_file = n.api_key_file;
    cfg.api_key_env = n.api_key_env;
    cfg.rate_limit_classes = n.rate_limit_classes;
    cfg.max_concurrent_jobs = n.max_concurrent_jobs;
    host->set_limit(cfg.rate_limit.requests, cfg.rate_limit.per_seconds, cfg.rate_limit.per_day);
    if (!api.bucket_class_header().empty()) host->set_classes(class_limits(cfg));
    host->set_max_concurrent_jobs(cfg.max_concurrent_jobs);
}

}  // namespace briefd::pipeline::detail
