#include "cli/validate.hpp"

#include "http/client.hpp"
#include "providers/provider.hpp"
#include "store/read_file.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <optional>

namespace briefd::cli {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

/// The result of asking a provider for one app's schema.
struct schema_answer {
    std::optional<providers::app_schema> schema;
    std::string problem;  ///< when there is no schema: what to tell the operator
};

/// The daemon's client settings for a provider (trust store, proxy, connect deadline).
http::client_options client_options_for(const config::provider_config& p) {
    http::client_options o;
    o.ca_file = p.ca_file;
    o.trust_system_store = !p.ca_file_only;
    o.connect_timeout = p.timeouts.connect;
    o.proxy = p.proxy.from_environment
                  ? http::proxy_options::from_environment()
                  : http::proxy_options{p.proxy.url, p.proxy.url, p.proxy.no_proxy};
    return o;
}

schema_answer fetch_schema(const config::provider_config& pc, const providers::provider& api,
                           const secret* key, const std::string& app) {
    schema_answer a;
    if (!key) {
        a.problem = "cannot check the inputs: no API key for provider " + pc.name;
        return a;
    }
    auto base = boost::urls::parse_uri(pc.base_url);
    auto o = base ? http::origin::from_url(*base) : std::nullopt;
    if (!o) {
        a.problem = "cannot check the inputs: providers." + pc.name + ".base_url is not usable";
        return a;
    }
    asio::io_context io(1);
    http::client client(io.get_executor(), client_options_for(pc));
    client.set_credential(*o, api.credential_header(), secret(api.credential_value(key->reveal())));
    auto call = api.schema_request(app);
    http::request req;
    req.method = call.method;
    req.url = providers::url_for(*base, call);
    req.headers.emplace_back("Accept", "application/json");
    for (const auto& h : call.headers) req.headers.push_back(h);
    req.timeout = pc.timeouts.request;
    std::pair<std::error_code, http::response> got;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { got = co_await client.async_request(std::move(req)); },
        asio::detached);
    io.run();
    auto& [ec, resp] = got;
    if (ec) {
        a.problem =
            "could not fetch the app's input schema from " + o->to_string() + ": " + ec.message();
        return a;
    }
    if (resp.status / 100 == 2) {
        a.schema = api.parse_schema(resp.body);
        if (!a.schema) a.problem = "the provider's description of app " + app + " is not readable";
        return a;
    }
    diagnostics d;
    auto err = api.classify_error(resp.status, resp.body, d);
    auto detail = d.message.empty() ? std::string() : " (" + d.message + ")";
    if (err == errc::not_found || err == errc::rejected)
        a.problem = "no such app: " + app + detail;  // the daemon's words for it
    else
        a.problem = "could not fetch the app's input schema: HTTP " + std::to_string(resp.status) +
                    " " + err.message() + detail;
    return a;
}

}  // namespace

std::vector<file_report> validate_files(const config::config& cfg,
                                        const std::map<std::string, secret>& keys,
                                        const std::vector<fs::path>& files,
                                        const validate_options& opt) {
    std::vector<file_report> out;
    std::map<std::pair<std::string, std::string>, schema_answer> schemas;  // (provider, app)
    for (const auto& path : files) {
        file_report r;
        r.path = path;
        r.name = path.filename().string();
        // The operator named this path: follow a symlink they chose (the spool never does).
        std::error_code cec;
        auto real = fs::canonical(path, cec);
        std::string why;
        auto [rec, bytes] = store::read_regular_file(cec ? path : real, cfg.max_brief_bytes, why);
        if (rec) {
            r.problems.push_back({r.name, std::nullopt, "file", why.empty() ? rec.message() : why});
            out.push_back(std::move(r));
            continue;
        }
        brief::limits lim;
        lim.max_brief_bytes = cfg.max_brief_bytes;
        auto res = brief::parse(r.name, bytes, cfg.default_provider, providers::item_schemas(), lim);
        r.bytes = std::move(bytes);
        if (!res.ok()) {
            r.problems = std::move(res.problems);
            out.push_back(std::move(r));
            continue;
        }
        r.provider = res.brief->provider;
        r.items = res.brief->items.size();
        const auto* api = providers::find(r.provider);
        auto pc = cfg.providers.find(r.provider);
        if (!api || pc == cfg.providers.end()) {
            r.problems.push_back(
                {r.name, std::nullopt, "provider",
                 "provider " + r.provider +
                     (pc != cfg.providers.end() ? " is not supported by this version of briefd yet"
                                                : " is not configured under providers:")});
            out.push_back(std::move(r));
            continue;
        }
        if (opt.schemas) {
            auto k = keys.find(r.provider);
            for (const auto& it : res.brief->items) {
                auto app = api->schema_key(it);
                if (!app) continue;
                auto slot = schemas.find({r.provider, *app});
                if (slot == schemas.end())
                    slot = schemas
                               .emplace(std::pair{r.provider, *app},
                                        fetch_schema(pc->second, *api,
                                                     k == keys.end() ? nullptr : &k->second, *app))
                               .first;
                if (!slot->second.schema) {
                    r.problems.push_back({r.name, it.index, "app", slot->second.problem});
                    continue;
                }
                auto p = api->check_inputs(r.name, it, *slot->second.schema);
                r.problems.insert(r.problems.end(), p.begin(), p.end());
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace briefd::cli
