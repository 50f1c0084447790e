#include "control.hpp"

namespace briefd::sim {

namespace json = boost::json;

asio::awaitable<handler_result> control_surface::handle(request_context& ctx) {
    const auto& req = ctx.req;
    std::string_view path = req.target();
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    auto reply = [&](http::status s, json::value v) {
        response r{s, 11};
        r.set(http::field::content_type, "application/json");
        r.body() = json::serialize(v);
        return handler_result{std::move(r)};
    };
    auto parse = [&](json::object& out) {
        boost::system::error_code ec;
        json::value v = json::parse(req.body(), ec);
        if (ec || !v.is_object()) return false;
        out = std::move(v.get_object());
        return true;
    };
    const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;

    if ((path == "/_sim/hrizn" || path.starts_with("/_sim/hrizn/")) && hrizn_)
        co_return co_await hrizn_->handle(ctx);
    if ((path == "/_sim/layers" || path.starts_with("/_sim/layers/")) && layers_)
        co_return co_await layers_->handle(ctx);
    if (path == "/_sim/webhooks" && webhooks_) co_return co_await webhooks_->handle(ctx);
    if (path == "/_sim/stats" && get) {
        json::object o = st_.counters.to_json();
        if (extra_stats_) extra_stats_(o);
        co_return reply(http::status::ok, std::move(o));
    }
    if (path == "/_sim/stats/reset" && post) {
        auto conns = st_.counters.connections, streams = st_.counters.streams;
        st_.counters = stats{};
        st_.counters.connections = {conns.current, conns.current};
        st_.counters.streams = {streams.current, streams.current};
        co_return reply(http::status::ok, {{"ok", true}});
    }
    if (path == "/_sim/faults" && get) co_return reply(http::status::ok, to_json(st_.faults));
    if (path == "/_sim/faults" && post) {
        json::object body;
        std::string error;
        if (!parse(body))
            co_return reply(http::status::bad_request, {{"error", "body must be a JSON object"}});
        if (!apply_faults_json(st_.faults, body, std::chrono::steady_clock::now(), error))
            co_return reply(http::status::bad_request, {{"error", error}});
        co_return reply(http::status::ok, to_json(st_.faults));
    }
    if (path == "/_sim/ratelimit" && post) {
        // {"limit": N, "window_s": T, "mode": "fixed"|"sliding"}: replaces the limiter (budgets
        // reset).
        json::object body;
        if (!parse(body))
            co_return reply(http::status::bad_request, {{"error", "body must be a JSON object"}});
        unsigned limit = st_.limiter.limit();
        double window_s = st_.opt.rate_window_s;
        rate_mode mode = st_.limiter.mode();
        if (auto* v = body.if_contains("limit"); v && v->is_number())
            limit = v->to_number<unsigned>();
        if (auto* v = body.if_contains("window_s"); v && v->is_number())
            window_s = v->to_number<double>();
        if (auto* v = body.if_contains("mode"); v && v->is_string()) {
            if (v->get_string() == "sliding")
                mode = rate_mode::sliding;
            else if (v->get_string() == "fixed")
                mode = rate_mode::fixed;
            else
                co_return reply(http::status::bad_request,
                                {{"error", "mode must be fixed or sliding"}});
        }
        if (window_s <= 0)
            co_return reply(http::status::bad_request, {{"error", "window_s must be > 0"}});
        st_.opt.rate_window_s = window_s;
        st_.limiter = rate_limiter(limit, st_.real(window_s), mode);
        co_return reply(http::status::ok,
                        {{"limit", limit},
                         {"window_s", window_s},
                         {"mode", mode == rate_mode::fixed ? "fixed" : "sliding"}});
    }
    co_return reply(http::status::not_found, {{"error", "unknown control endpoint"}});
}

asio::awaitable<handler_result> hrizn_key_watch::handle(request_context& ctx) {
    for (auto field : {"X-API-Key", "Authorization"})
        if (auto it = ctx.req.find(field);
            it != ctx.req.end() && it->value().find("hzk_") != std::string_view::npos) {
            ++(st_.counters.hrizn.*counter_);
            break;
        }
    co_return co_await inner_.handle(ctx);
}

asio::awaitable<handler_result> layers_key_watch::handle(request_context& ctx) {
    for (auto field : {"X-API-Key", "Authorization"})
        if (auto it = ctx.req.find(field);
            it != ctx.req.end() && (it->value().find("lp_test_") != std::string_view::npos ||
                                    it->value().find("lp_live_") != std::string_view::npos)) {
            ++(st_.counters.layers.*counter_);
            break;
        }
    co_return co_await inner_.handle(ctx);
}

}  // namespace briefd::sim
