#include "config/config.hpp"

#include "core/url_text.hpp"
#include "core/utf8.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace briefd::config {

std::string load_error::to_string() const {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!key.empty()) s += key + ": ";
    s += problem;
    return s;
}

std::string_view to_string(tracking_mode m) {
    switch (m) {
    case tracking_mode::auto_: return "auto";
    case tracking_mode::sse: return "sse";
    case tracking_mode::wait: return "wait";
    case tracking_mode::poll: return "poll";
    case tracking_mode::webhook: return "webhook";
    }
    return "auto";
}

std::string_view to_string(uncertain_policy p) {
    return p == uncertain_policy::resubmit ? "resubmit" : "fail";
}

namespace detail {
namespace {

constexpr std::string_view api_key_literal = "put the key in api_key_file or api_key_env, never in the config";

// The first error ends loading; thrown inside this file only and returned to callers as a value.
struct stop {
    load_error error;
};

int line_of(const YAML::Node& n) {
    if (!n.IsDefined()) return 0;
    const auto m = n.Mark();
    return m.is_null() ? 0 : m.line + 1;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

/// One `key: value` pair of a mapping, with where it is.
struct field {
    std::string path;     // dotted key
    YAML::Node key;       // for the line of "unknown key"/"duplicate key"
    YAML::Node value;
    int line() const {
        int l = line_of(value);
        return l > 0 ? l : line_of(key);
    }
};

class reader {
public:
    explicit reader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(int line, std::string key, std::string problem) const {
        throw stop{load_error{file_, line, std::move(key), std::move(problem)}};
    }
    [[noreturn]] void fail(const field& f, std::string problem) const { fail(f.line(), f.path, std::move(problem)); }

    /// The pairs of a mapping, refusing duplicate keys, keys outside `allowed` and api_key literals.
    std::map<std::string, field> mapping(const YAML::Node& node, const std::string& path, int line,
                                         const std::set<std::string_view>& allowed) const {
        if (!node.IsMap()) fail(line_of(node) > 0 ? line_of(node) : line, path, "must be a mapping of keys");
        std::map<std::string, field> out;
        for (const auto& kv : node) {
            const YAML::Node k = kv.first;
            if (!k.IsScalar()) fail(line_of(k), path, "keys must be plain names");
            std::string name = k.Scalar();
            std::string p = path.empty() ? name : path + "." + name;
            if (name == "api_key") fail(line_of(k), p, std::string(api_key_literal));
            if (!allowed.empty() && !allowed.count(name)) {
                std::string known;
                for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
                fail(line_of(k), p, "unknown key (expected one of: " + known + ")");
            }
            if (out.count(name)) fail(line_of(k), p, "duplicate key");
            out.emplace(name, field{p, k, kv.second});
        }
        return out;
    }

    std::string string(const field& f) const {
        if (!f.value.IsScalar()) fail(f, f.value.IsNull() || !f.value.IsDefined() ? "must not be empty" : "must be a string");
        std::string s = f.value.Scalar();
        if (s.empty()) fail(f, "must not be empty");
        return s;
    }

    std::int64_t integer(const field& f, std::int64_t min, std::int64_t max) const {
        const std::string range = "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
        // Tag "!" is a quoted scalar: "5000" in quotes is a string, and the contract is typed.
        if (!f.value.IsScalar() || f.value.Tag() != "?") fail(f, range);
        const std::string& s = f.value.Scalar();
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc::result_out_of_range) fail(f, range);
        if (ec != std::errc() || p != s.data() + s.size()) fail(f, range);
        if (v < 0 && min >= 0) fail(f, "must not be negative (" + range.substr(5) + ")");
        if (v < min || v > max) fail(f, range);
        return v;
    }

    std::string choice(const field& f, std::initializer_list<std::string_view> allowed) const {
        std::string s = f.value.IsScalar() ? f.value.Scalar() : std::string();
        if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
            std::string names;
            for (auto a : allowed) names += (names.empty() ? "" : " | ") + std::string(a);
            fail(f, "must be one of " + names);
        }
        return s;
    }

    std::filesystem::path absolute_path(const field& f) const {
        const std::string text = string(f);
        // `--check` prints the effective config through yaml-cpp's emitter, which replaces bytes
        // that are not UTF-8: such a path would print differently from the one in use.
        if (!utf8::is_valid(text)) fail(f, "must be valid UTF-8 (a path briefd can print as it uses it)");
        if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
            fail(f, "must not contain control characters");
        std::filesystem::path p = text;
        if (!p.is_absolute()) fail(f, "must be an absolute path (the daemon's working directory is not yours)");
        return p;
    }

private:
    std::string file_;
};

bool is_loopback(const boost::urls::url_view& u) {
    switch (u.host_type()) {
    case boost::urls::host_type::ipv4: return u.host_ipv4_address().to_bytes()[0] == 127;
    case boost::urls::host_type::ipv6: return u.host_ipv6_address().is_loopback();
    case boost::urls::host_type::name: return lower(u.host()) == "localhost";
    default: return false;
    }
}

std::string check_base_url(const reader& r, const field& f) {
    std::string s = r.string(f);
    // Checked before Boost.URL sees it (1.81 asserts on some bytes after "scheme:").
    if (!is_http_url_text(s))
        r.fail(f, "must be an https:// URL (or http:// for a loopback host) of printable ASCII");
    auto u = boost::urls::parse_absolute_uri(s);
    if (!u) r.fail(f, "not a valid URL (" + u.error().message() + ")");
    std::string scheme = lower(u->scheme());
    if (scheme != "http" && scheme != "https") r.fail(f, "must be an https:// URL (or http:// for a loopback host)");
    if (!u->has_authority() || u->host().empty()) r.fail(f, "must name a host");
    if (u->has_userinfo()) r.fail(f, "must not carry credentials; put the key in api_key_file or api_key_env");
    if (u->has_query() || u->has_fragment()) r.fail(f, "must not have a query or fragment");
    if (scheme == "http" && !is_loopback(*u))
        r.fail(f, "http:// is only allowed for loopback hosts (127.x.x.x, ::1, localhost); use https://");
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

bool is_env_name(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

using ms = std::chrono::milliseconds;
constexpr std::int64_t hour_ms = 3600000;
constexpr std::int64_t day_ms = 24 * hour_ms;

provider_config read_provider(const reader& r, const field& pf) {
    provider_config p;
    p.name = pf.key.Scalar();
    if (p.name != "lamina" && p.name != "hrizn" && p.name != "layers")
        r.fail(line_of(pf.key), pf.path, "unknown provider (expected lamina, hrizn or layers)");
    auto m = r.mapping(pf.value, pf.path, pf.line(),
                       {"base_url", "api_key_file", "api_key_env", "ca_file", "ca_file_only", "rate_limit",
                        "rate_limit_classes", "max_concurrent_jobs", "batch", "tracking", "timeouts", "retry",
                        "webhook_secret_file", "webhook_secret_env"});
    if (!m.count("base_url")) r.fail(line_of(pf.key), pf.path + ".base_url", "required");
    p.base_url = check_base_url(r, m.at("base_url"));
    if (m.count("api_key_file")) p.api_key_file = r.absolute_path(m.at("api_key_file")).string();
    if (m.count("api_key_env")) {
        p.api_key_env = r.string(m.at("api_key_env"));
        if (!is_env_name(p.api_key_env)) r.fail(m.at("api_key_env"), "must be an environment variable name");
    }
    if (p.api_key_file.empty() && p.api_key_env.empty())
        r.fail(line_of(pf.key), pf.path, "needs api_key_file or api_key_env (where the API key is)");
    if (!p.api_key_file.empty() && !p.api_key_env.empty())
        r.fail(m.at("api_key_env"), "give api_key_file or api_key_env, not both");
    if (m.count("ca_file")) p.ca_file = r.absolute_path(m.at("ca_file")).string();
    if (auto it = m.find("ca_file_only"); it != m.end()) {
        p.ca_file_only = r.choice(it->second, {"true", "false"}) == "true";
        if (p.ca_file_only && p.ca_file.empty()) r.fail(it->second, "needs ca_file (the only CAs to trust)");
    }

    // Documented defaults where the providers differ: Hrizn allows 60 requests a minute and 10,000
    // a day per key, and its articles take minutes, so it is polled every 15 s.
    if (p.name == "layers") {
        // The standard tier (PROVIDERS §3.5): read-light 120/min is the default bucket; writes
        // and job starts have buckets of their own, and 10 jobs may run at once.
        p.rate_limit.requests = 120;
        p.rate_limit_classes["write-light"] = {60, std::chrono::seconds(60), 0};
        p.rate_limit_classes["long-running"] = {20, std::chrono::seconds(60), 10000};
        p.max_concurrent_jobs = 10;
    }
    if (p.name == "hrizn") {
        p.rate_limit.requests = 60;
        p.rate_limit.per_day = 10000;
        p.tracking.poll_interval = std::chrono::seconds(15);
    }
    if (auto it = m.find("rate_limit"); it != m.end()) {
        auto rl = r.mapping(it->second.value, it->second.path, it->second.line(), {"requests", "per_seconds", "per_day"});
        if (rl.count("requests")) p.rate_limit.requests = static_cast<std::size_t>(r.integer(rl.at("requests"), 1, 1000000));
        if (rl.count("per_seconds")) p.rate_limit.per_seconds = std::chrono::seconds(r.integer(rl.at("per_seconds"), 1, 86400));
        if (rl.count("per_day")) p.rate_limit.per_day = static_cast<std::size_t>(r.integer(rl.at("per_day"), 1, 100000000));
    }
    if (auto it = m.find("rate_limit_classes"); it != m.end()) {
        for (const auto& [name, f] : r.mapping(it->second.value, it->second.path, it->second.line(), {})) {
            const bool ok = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                            });
            if (name.empty() || !ok)
                r.fail(line_of(f.key), f.path, "a class name is lower-case letters, digits, '-' and '_' (as in X-RateLimit-Endpoint-Class)");
            auto rl = r.mapping(f.value, f.path, f.line(), {"requests", "per_seconds", "per_day"});
            rate_limit_config c;
            if (!rl.count("requests")) r.fail(f.line(), f.path + ".requests", "required");
            c.requests = static_cast<std::size_t>(r.integer(rl.at("requests"), 1, 1000000));
            if (rl.count("per_seconds")) c.per_seconds = std::chrono::seconds(r.integer(rl.at("per_seconds"), 1, 86400));
            if (rl.count("per_day")) c.per_day = static_cast<std::size_t>(r.integer(rl.at("per_day"), 1, 100000000));
            p.rate_limit_classes[name] = c;
        }
    }
    if (auto it = m.find("max_concurrent_jobs"); it != m.end())
        p.max_concurrent_jobs = static_cast<std::size_t>(r.integer(it->second, 0, 100000));
    if (auto it = m.find("batch"); it != m.end()) {
        auto b = r.mapping(it->second.value, it->second.path, it->second.line(), {"max_items", "linger_ms"});
        if (b.count("max_items")) p.batch.max_items = static_cast<std::size_t>(r.integer(b.at("max_items"), 1, 10));
        if (b.count("linger_ms")) p.batch.linger = ms(r.integer(b.at("linger_ms"), 0, 10 * 60000));
    }
    if (auto it = m.find("tracking"); it != m.end()) {
        auto t = r.mapping(it->second.value, it->second.path, it->second.line(),
                           {"mode", "poll_interval_ms", "wait_timeout_s", "sse_idle_timeout_ms", "sse_max_failures",
                            "schedule_scale", "list"});
        if (t.count("mode")) {
            auto mode = r.choice(t.at("mode"), {"auto", "sse", "wait", "poll", "webhook"});
            p.tracking.mode = mode == "sse" ? tracking_mode::sse
                            : mode == "wait" ? tracking_mode::wait
                            : mode == "poll" ? tracking_mode::poll
                            : mode == "webhook" ? tracking_mode::webhook
                                             : tracking_mode::auto_;
        }
        if (t.count("poll_interval_ms")) p.tracking.poll_interval = ms(r.integer(t.at("poll_interval_ms"), 100, hour_ms));
        if (t.count("wait_timeout_s")) p.tracking.wait_timeout = std::chrono::seconds(r.integer(t.at("wait_timeout_s"), 1, 120));
        if (t.count("sse_idle_timeout_ms")) p.tracking.sse_idle_timeout = ms(r.integer(t.at("sse_idle_timeout_ms"), 1000, hour_ms));
        if (t.count("sse_max_failures")) p.tracking.sse_max_failures = static_cast<unsigned>(r.integer(t.at("sse_max_failures"), 0, 1000));
        if (t.count("schedule_scale")) p.tracking.schedule_scale = static_cast<unsigned>(r.integer(t.at("schedule_scale"), 1, 1000));
        if (t.count("list")) p.tracking.list = r.choice(t.at("list"), {"true", "false"}) == "true";
    }
    if (auto it = m.find("timeouts"); it != m.end()) {
        auto t = r.mapping(it->second.value, it->second.path, it->second.line(), {"connect_ms", "request_ms", "download_idle_ms", "download_min_bytes_per_s", "download_rate_window_ms"});
        if (t.count("connect_ms")) p.timeouts.connect = ms(r.integer(t.at("connect_ms"), 1, hour_ms));
        if (t.count("request_ms")) p.timeouts.request = ms(r.integer(t.at("request_ms"), 1, hour_ms));
        if (t.count("download_idle_ms")) p.timeouts.download_idle = ms(r.integer(t.at("download_idle_ms"), 1, hour_ms));
        if (t.count("download_min_bytes_per_s"))
            p.timeouts.download_min_bytes_per_s = static_cast<std::uint64_t>(r.integer(t.at("download_min_bytes_per_s"), 0, 1'000'000'000));
        if (t.count("download_rate_window_ms")) p.timeouts.download_rate_window = ms(r.integer(t.at("download_rate_window_ms"), 1000, hour_ms));
    }
    if (auto it = m.find("retry"); it != m.end()) {
        auto t = r.mapping(it->second.value, it->second.path, it->second.line(), {"base_ms", "cap_ms", "max_attempts"});
        if (t.count("base_ms")) p.retry.base = ms(r.integer(t.at("base_ms"), 1, hour_ms));
        if (t.count("cap_ms")) {
            p.retry.cap = ms(r.integer(t.at("cap_ms"), 1, day_ms));
            if (p.retry.cap < p.retry.base) r.fail(t.at("cap_ms"), "must be at least base_ms");
        } else if (p.retry.cap < p.retry.base) {
            r.fail(t.at("base_ms"), "must not exceed cap_ms (" + std::to_string(p.retry.cap.count()) + ")");
        }
        if (t.count("max_attempts")) p.retry.max_attempts = static_cast<unsigned>(r.integer(t.at("max_attempts"), 1, 1000));
    }
    if (m.count("webhook_secret_file")) {
        if (p.name == "lamina")
            r.fail(m.at("webhook_secret_file"), "Lamina signs webhooks with a public key briefd fetches; it has no secret");
        p.webhook_secret_file = r.absolute_path(m.at("webhook_secret_file")).string();
    }
    if (m.count("webhook_secret_env")) {
        if (p.name == "lamina")
            r.fail(m.at("webhook_secret_env"), "Lamina signs webhooks with a public key briefd fetches; it has no secret");
        p.webhook_secret_env = r.string(m.at("webhook_secret_env"));
        if (!is_env_name(p.webhook_secret_env)) r.fail(m.at("webhook_secret_env"), "must be an environment variable name");
        if (!p.webhook_secret_file.empty()) r.fail(m.at("webhook_secret_env"), "give webhook_secret_file or webhook_secret_env, not both");
    }
    return p;
}

/// webhooks: { listen: host:port, public_url: https://…, grace_s, tolerance_s, max_body_bytes, fallback_after }
webhooks_config read_webhooks(const reader& r, const field& f) {
    webhooks_config w;
    w.enabled = true;
    auto m = r.mapping(f.value, f.path, f.line(),
                       {"listen", "public_url", "grace_s", "tolerance_s", "max_body_bytes", "fallback_after", "key_refetch_s"});
    if (auto it = m.find("listen"); it != m.end()) {
        w.listen = r.string(it->second);
        auto colon = w.listen.rfind(':');
        std::string host = colon == std::string::npos ? std::string() : w.listen.substr(0, colon);
        std::string port = colon == std::string::npos ? std::string() : w.listen.substr(colon + 1);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        unsigned long pn = 0;
        auto [pe, pec] = std::from_chars(port.data(), port.data() + port.size(), pn);
        if (host.empty() || port.empty() || pec != std::errc() || pe != port.data() + port.size() || pn > 65535)
            r.fail(it->second, "must be host:port (e.g. 127.0.0.1:8787 or [::1]:8787; port 0 picks a free one)");
    }
    if (!m.count("public_url"))
        r.fail(f, "needs public_url (the https:// URL providers are told; deliveries go to <public_url>/<provider>)");
    const auto& uf = m.at("public_url");
    std::string url = r.string(uf);
    if (!is_http_url_text(url)) r.fail(uf, "must be an http(s):// URL of printable ASCII");
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) r.fail(uf, "not a valid URL (" + u.error().message() + ")");
    std::string scheme = lower(u->scheme());
    if (scheme != "http" && scheme != "https") r.fail(uf, "must be an https:// URL (or http:// for a loopback host)");
    if (!u->has_authority() || u->host().empty()) r.fail(uf, "must name a host");
    if (u->has_userinfo() || u->has_query() || u->has_fragment())
        r.fail(uf, "must be scheme://host[:port][/path] without credentials, query or fragment");
    if (scheme == "http" && !is_loopback(*u))
        r.fail(uf, "http:// is only allowed for loopback hosts; providers deliver to an https:// URL");
    while (!url.empty() && url.back() == '/') url.pop_back();
    w.public_url = url;
    if (auto it = m.find("grace_s"); it != m.end()) w.grace = std::chrono::seconds(r.integer(it->second, 1, 86400));
    if (auto it = m.find("tolerance_s"); it != m.end()) w.tolerance = std::chrono::seconds(r.integer(it->second, 1, 3600));
    if (auto it = m.find("max_body_bytes"); it != m.end())
        w.max_body_bytes = static_cast<std::size_t>(r.integer(it->second, 1024, 64 << 20));
    if (auto it = m.find("key_refetch_s"); it != m.end()) w.key_refetch = std::chrono::seconds(r.integer(it->second, 1, 86400));
    if (auto it = m.find("fallback_after"); it != m.end())
        w.fallback_after = static_cast<unsigned>(r.integer(it->second, 1, 1000));
    return w;
}

/// proxy: { url: http://[user:password@]host[:port] | none, no_proxy: [entries] }
proxy_config read_proxy(const reader& r, const field& f) {
    proxy_config p;
    p.from_environment = false;
    auto m = r.mapping(f.value, f.path, f.line(), {"url", "no_proxy"});
    if (!m.count("url")) r.fail(f, "needs url (an http:// proxy URL, or none to ignore HTTPS_PROXY and friends)");
    const auto& uf = m.at("url");
    std::string url = r.string(uf);
    if (url != "none") {
        // The scheme is checked first: Boost.URL 1.81 asserts on "scheme:" followed by an odd byte.
        if (lower(url.substr(0, 7)) != "http://")
            r.fail(uf, "must be an http:// URL (https targets are tunnelled with CONNECT), or none");
        auto u = boost::urls::parse_absolute_uri(url);
        if (!u) r.fail(uf, "not a valid URL (" + u.error().message() + ")");
        if (!u->has_authority() || u->host().empty()) r.fail(uf, "must name a host");
        if (u->has_port() && (u->port().empty() || u->port().size() > 5 || u->port_number() == 0 ||
                              std::stoul(std::string(u->port())) > 65535))
            r.fail(uf, "invalid port (1 to 65535)");
        if (u->has_query() || u->has_fragment() || (!u->path().empty() && u->path() != "/"))
            r.fail(uf, "must be http://[user:password@]host[:port], without a path or query");
        p.url = url;
    }
    if (auto it = m.find("no_proxy"); it != m.end()) {
        const auto& nf = it->second;
        if (!nf.value.IsSequence()) r.fail(nf, "must be a list of host names, IP addresses or CIDR ranges");
        for (const auto& e : nf.value) {
            const field ef{nf.path, nf.key, e};
            std::string entry = r.string(ef);
            if (entry.find_first_of(", \t") != std::string::npos)
                r.fail(ef, "one host, address or range per list entry (\"" + entry + "\")");
            p.no_proxy.push_back(std::move(entry));
        }
    }
    return p;
}

/// "127.0.0.1:9464", "[::1]:9464": an IP literal (IPv6 in brackets) and a port, 0..65535.
bool is_listen_address(std::string_view s) {
    std::string_view host, port;
    if (s.starts_with('[')) {
        auto close = s.find("]:");
        if (close == std::string_view::npos) return false;
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
        if (!boost::urls::parse_ipv6_address(host)) return false;
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string_view::npos) return false;
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (!boost::urls::parse_ipv4_address(host)) return false;
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    return !port.empty() && port.size() <= 5 && ec == std::errc() &&
           end == port.data() + port.size() && p <= 65535;
}

/// status: { listen: 127.0.0.1:9464 | off }
status_config read_status(const reader& r, const field& f) {
    status_config st;
    auto m = r.mapping(f.value, f.path, f.line(), {"listen"});
    if (auto it = m.find("listen"); it != m.end()) {
        // YAML 1.1 readers take a bare `off` for a boolean; accept the usual spellings.
        std::string v = it->second.value.IsScalar() ? it->second.value.Scalar() : std::string();
        if (v == "off" || v == "false" || v == "none") {
            st.listen.clear();
        } else {
            v = r.string(it->second);
            if (!is_listen_address(v))
                r.fail(it->second, "must be IP:port (127.0.0.1:9464, [::1]:9464; no host names), or off");
            st.listen = v;
        }
        st.listen_explicit = true;
    }
    return st;
}

config read(const YAML::Node& root, const reader& r) {
    config c;
    if (!root.IsDefined() || root.IsNull()) r.fail(0, "", "the file is empty (spool, outputs and providers are required)");
    auto m = r.mapping(root, "", 1,
                       {"spool", "outputs", "default_provider", "providers", "max_brief_bytes", "max_output_bytes",
                        "settle_ms", "rescan_interval_ms", "retention_hours", "on_uncertain", "drain_timeout_ms",
                        "max_concurrent_downloads", "max_items_waiting", "max_items_in_flight", "log_level", "proxy",
                        "status", "webhooks"});
    if (!m.count("spool")) r.fail(0, "spool", "required (the queue directory, e.g. /var/spool/briefd)");
    if (!m.count("outputs")) r.fail(0, "outputs", "required (where results go, e.g. /var/lib/briefd/outputs)");
    c.spool = r.absolute_path(m.at("spool"));
    c.outputs = r.absolute_path(m.at("outputs"));

    if (!m.count("providers")) r.fail(0, "providers", "required (at least one of lamina, hrizn, layers)");
    const auto& pf = m.at("providers");
    auto providers = r.mapping(pf.value, pf.path, pf.line(), {});
    if (providers.empty()) r.fail(pf, "configure at least one provider");
    for (const auto& [name, f] : providers) c.providers.emplace(name, read_provider(r, f));

    if (auto it = m.find("default_provider"); it != m.end()) c.default_provider = r.string(it->second);
    if (!c.providers.count(c.default_provider)) {
        auto it = m.find("default_provider");
        r.fail(it != m.end() ? it->second.line() : pf.line(), "default_provider",
               "\"" + c.default_provider + "\" is not configured under providers:");
    }

    if (auto it = m.find("max_brief_bytes"); it != m.end())
        c.max_brief_bytes = static_cast<std::size_t>(r.integer(it->second, 1, std::int64_t{1} << 30));
    if (auto it = m.find("max_output_bytes"); it != m.end())
        c.max_output_bytes = static_cast<std::uint64_t>(r.integer(it->second, 1, std::int64_t{1} << 50));
    if (auto it = m.find("settle_ms"); it != m.end()) c.settle = ms(r.integer(it->second, 0, hour_ms));
    if (auto it = m.find("rescan_interval_ms"); it != m.end()) c.rescan_interval = ms(r.integer(it->second, 100, day_ms));
    if (auto it = m.find("retention_hours"); it != m.end())
        c.retention = std::chrono::hours(r.integer(it->second, 0, 24 * 365 * 100));
    if (auto it = m.find("on_uncertain"); it != m.end())
        c.on_uncertain = r.choice(it->second, {"fail", "resubmit"}) == "resubmit" ? uncertain_policy::resubmit
                                                                                 : uncertain_policy::fail;
    if (auto it = m.find("drain_timeout_ms"); it != m.end()) c.drain_timeout = ms(r.integer(it->second, 0, hour_ms));
    if (auto it = m.find("max_concurrent_downloads"); it != m.end())
        c.max_concurrent_downloads = static_cast<std::size_t>(r.integer(it->second, 1, 1024));
    if (auto it = m.find("max_items_waiting"); it != m.end())
        c.max_items_waiting = static_cast<std::size_t>(r.integer(it->second, 1, 10'000'000));
    if (auto it = m.find("max_items_in_flight"); it != m.end())
        c.max_items_in_flight = static_cast<std::size_t>(r.integer(it->second, 1, 10'000'000));
    if (auto it = m.find("log_level"); it != m.end())
        c.log_level = r.choice(it->second, {"error", "warning", "notice", "info", "debug"});
    if (auto it = m.find("proxy"); it != m.end()) c.proxy = read_proxy(r, it->second);
    for (auto& [name, p] : c.providers) p.proxy = c.proxy;  // every provider's client uses it
    if (auto it = m.find("status"); it != m.end()) c.status = read_status(r, it->second);
    if (auto it = m.find("webhooks"); it != m.end()) c.webhooks = read_webhooks(r, it->second);
    for (const auto& [name, p] : c.providers) {
        if (p.tracking.mode != tracking_mode::webhook) continue;
        const std::string at = "providers." + name + ".tracking.mode";
        if (!c.webhooks.enabled)
            r.fail(pf.line(), at, "webhook needs the webhooks: section (listen, public_url)");
        if (name != "lamina" && p.webhook_secret_file.empty() && p.webhook_secret_env.empty())
            r.fail(pf.line(), at, "webhook needs webhook_secret_file or webhook_secret_env (the subscription's signing secret)");
    }
    return c;
}

}  // namespace
}  // namespace detail

std::variant<config, load_error> load_from_string(std::string_view yaml, const std::filesystem::path& name) {
    const std::string file = name.string();
    try {
        YAML::Node root = YAML::Load(std::string(yaml));
        config c = detail::read(root, detail::reader(file));
        c.source = name;
        return c;
    } catch (const detail::stop& s) {
        return s.error;
    } catch (const YAML::Exception& e) {
        return load_error{file, e.mark.is_null() ? 0 : e.mark.line + 1, "", e.msg};
    } catch (const std::exception& e) {
        return load_error{file, 0, "", std::string("cannot read the config: ") + e.what()};
    }
}

std::variant<config, load_error> load(const std::filesystem::path& file) {
    constexpr std::size_t max_bytes = 1 << 20;
    std::ifstream in(file, std::ios::binary);
    if (!in) return load_error{file.string(), 0, "", std::string("cannot open: ") + std::strerror(errno)};
    std::string text(max_bytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return load_error{file.string(), 0, "", std::string("cannot read: ") + std::strerror(errno)};
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) return load_error{file.string(), 0, "", "larger than 1 MiB; is this the config file?"};
    return load_from_string(text, file);
}

namespace {
// Reads a one-line secret from `file` or the variable `env` (whichever is set); `what` names the
// keys in messages. Never puts the value in a message.
std::variant<briefd::secret, std::string> load_secret(const provider_config& p, std::string_view what,
                                                      const std::string& file, const std::string& env) {
    std::string source;
    std::string value;
    if (!file.empty()) {
        source = std::string(what) + "_file " + file;
        std::ifstream in(file, std::ios::binary);
        if (!in) return "provider " + p.name + ": cannot open " + source + ": " + std::strerror(errno);
        constexpr std::size_t max_bytes = 64 * 1024;
        value.assign(max_bytes + 1, '\0');
        in.read(value.data(), static_cast<std::streamsize>(value.size()));
        if (in.bad()) return "provider " + p.name + ": cannot read " + source + ": " + std::strerror(errno);
        value.resize(static_cast<std::size_t>(in.gcount()));
        if (value.size() > max_bytes) return "provider " + p.name + ": " + source + " is larger than 64 KiB";
    } else if (!env.empty()) {
        source = "environment variable " + env;
        const char* v = std::getenv(env.c_str());
        if (!v) return "provider " + p.name + ": " + source + " is not set";
        value = v;
    } else {
        return "provider " + p.name + ": no " + std::string(what) + "_file or " + std::string(what) + "_env configured";
    }
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) return "provider " + p.name + ": " + source + " is empty";
    // The key goes into an HTTP header: whitespace or control bytes mean the wrong file was named.
    if (std::any_of(value.begin(), value.end(), [](char ch) {
            auto c = static_cast<unsigned char>(ch);
            return c <= 0x20 || c == 0x7F;
        }))
        return "provider " + p.name + ": " + source + " holds whitespace or control characters (more than one line?)";
    return briefd::secret(std::move(value));
}
}  // namespace

std::variant<briefd::secret, std::string> load_api_key(const provider_config& p) {
    return load_secret(p, "api_key", p.api_key_file, p.api_key_env);
}

std::variant<briefd::secret, std::string> load_webhook_secret(const provider_config& p) {
    if (p.webhook_secret_file.empty() && p.webhook_secret_env.empty()) return briefd::secret();
    return load_secret(p, "webhook_secret", p.webhook_secret_file, p.webhook_secret_env);
}

std::string to_yaml(const config& c) {
    YAML::Emitter e;
    e << YAML::BeginMap;
    e << YAML::Key << "spool" << YAML::Value << c.spool.string();
    e << YAML::Key << "outputs" << YAML::Value << c.outputs.string();
    e << YAML::Key << "default_provider" << YAML::Value << c.default_provider;
    e << YAML::Key << "providers" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, p] : c.providers) {
        e << YAML::Key << name << YAML::Value << YAML::BeginMap;
        e << YAML::Key << "base_url" << YAML::Value << p.base_url;
        if (!p.api_key_file.empty()) e << YAML::Key << "api_key_file" << YAML::Value << p.api_key_file;
        if (!p.api_key_env.empty()) e << YAML::Key << "api_key_env" << YAML::Value << p.api_key_env;
        if (!p.ca_file.empty()) e << YAML::Key << "ca_file" << YAML::Value << p.ca_file;
        if (p.ca_file_only) e << YAML::Key << "ca_file_only" << YAML::Value << true;
        e << YAML::Key << "rate_limit" << YAML::Value << YAML::BeginMap
          << YAML::Key << "requests" << YAML::Value << p.rate_limit.requests
          << YAML::Key << "per_seconds" << YAML::Value << p.rate_limit.per_seconds.count();
        if (p.rate_limit.per_day) e << YAML::Key << "per_day" << YAML::Value << p.rate_limit.per_day;
        e << YAML::EndMap;
        if (!p.rate_limit_classes.empty()) {
            e << YAML::Key << "rate_limit_classes" << YAML::Value << YAML::BeginMap;
            for (const auto& [cls, l] : p.rate_limit_classes) {
                e << YAML::Key << cls << YAML::Value << YAML::BeginMap << YAML::Key << "requests" << YAML::Value
                  << l.requests << YAML::Key << "per_seconds" << YAML::Value << l.per_seconds.count();
                if (l.per_day) e << YAML::Key << "per_day" << YAML::Value << l.per_day;
                e << YAML::EndMap;
            }
            e << YAML::EndMap;
        }
        e << YAML::Key << "max_concurrent_jobs" << YAML::Value << p.max_concurrent_jobs;
        e << YAML::Key << "batch" << YAML::Value << YAML::BeginMap
          << YAML::Key << "max_items" << YAML::Value << p.batch.max_items
          << YAML::Key << "linger_ms" << YAML::Value << p.batch.linger.count() << YAML::EndMap;
        e << YAML::Key << "tracking" << YAML::Value << YAML::BeginMap
          << YAML::Key << "mode" << YAML::Value << std::string(to_string(p.tracking.mode))
          << YAML::Key << "poll_interval_ms" << YAML::Value << p.tracking.poll_interval.count()
          << YAML::Key << "wait_timeout_s" << YAML::Value << p.tracking.wait_timeout.count()
          << YAML::Key << "sse_idle_timeout_ms" << YAML::Value << p.tracking.sse_idle_timeout.count()
          << YAML::Key << "sse_max_failures" << YAML::Value << p.tracking.sse_max_failures;
        if (p.tracking.schedule_scale != 1) e << YAML::Key << "schedule_scale" << YAML::Value << p.tracking.schedule_scale;
        if (!p.tracking.list) e << YAML::Key << "list" << YAML::Value << false;
        e << YAML::EndMap;
        e << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap
          << YAML::Key << "connect_ms" << YAML::Value << p.timeouts.connect.count()
          << YAML::Key << "request_ms" << YAML::Value << p.timeouts.request.count()
          << YAML::Key << "download_idle_ms" << YAML::Value << p.timeouts.download_idle.count()
          << YAML::Key << "download_min_bytes_per_s" << YAML::Value << p.timeouts.download_min_bytes_per_s
          << YAML::Key << "download_rate_window_ms" << YAML::Value << p.timeouts.download_rate_window.count() << YAML::EndMap;
        e << YAML::Key << "retry" << YAML::Value << YAML::BeginMap
          << YAML::Key << "base_ms" << YAML::Value << p.retry.base.count()
          << YAML::Key << "cap_ms" << YAML::Value << p.retry.cap.count()
          << YAML::Key << "max_attempts" << YAML::Value << p.retry.max_attempts << YAML::EndMap;
        if (!p.webhook_secret_file.empty()) e << YAML::Key << "webhook_secret_file" << YAML::Value << p.webhook_secret_file;
        if (!p.webhook_secret_env.empty()) e << YAML::Key << "webhook_secret_env" << YAML::Value << p.webhook_secret_env;
        e << YAML::EndMap;
    }
    e << YAML::EndMap;
    e << YAML::Key << "max_brief_bytes" << YAML::Value << c.max_brief_bytes;
    e << YAML::Key << "max_output_bytes" << YAML::Value << c.max_output_bytes;
    e << YAML::Key << "settle_ms" << YAML::Value << c.settle.count();
    e << YAML::Key << "rescan_interval_ms" << YAML::Value << c.rescan_interval.count();
    e << YAML::Key << "retention_hours" << YAML::Value << c.retention.count();
    e << YAML::Key << "on_uncertain" << YAML::Value << std::string(to_string(c.on_uncertain));
    e << YAML::Key << "drain_timeout_ms" << YAML::Value << c.drain_timeout.count();
    e << YAML::Key << "max_concurrent_downloads" << YAML::Value << c.max_concurrent_downloads;
    e << YAML::Key << "max_items_waiting" << YAML::Value << c.max_items_waiting;
    e << YAML::Key << "max_items_in_flight" << YAML::Value << c.max_items_in_flight;
    e << YAML::Key << "log_level" << YAML::Value << c.log_level;
    if (c.webhooks.enabled) {
        e << YAML::Key << "webhooks" << YAML::Value << YAML::BeginMap
          << YAML::Key << "listen" << YAML::Value << c.webhooks.listen
          << YAML::Key << "public_url" << YAML::Value << c.webhooks.public_url
          << YAML::Key << "grace_s" << YAML::Value << c.webhooks.grace.count()
          << YAML::Key << "tolerance_s" << YAML::Value << c.webhooks.tolerance.count()
          << YAML::Key << "max_body_bytes" << YAML::Value << c.webhooks.max_body_bytes
          << YAML::Key << "key_refetch_s" << YAML::Value << c.webhooks.key_refetch.count()
          << YAML::Key << "fallback_after" << YAML::Value << c.webhooks.fallback_after << YAML::EndMap;
    }
    if (!c.proxy.from_environment) {
        // The password (if any) is shown as ***: --check output goes to terminals and tickets.
        std::string url = c.proxy.url.empty() ? "none" : c.proxy.url;
        if (auto u = boost::urls::parse_absolute_uri(url); u && u->has_password()) {
            boost::urls::url redacted(*u);
            redacted.set_password("***");
            url = std::string(redacted.buffer());
        }
        e << YAML::Key << "proxy" << YAML::Value << YAML::BeginMap << YAML::Key << "url" << YAML::Value << url;
        e << YAML::Key << "no_proxy" << YAML::Value << YAML::Flow << c.proxy.no_proxy << YAML::EndMap;
    }
    e << YAML::Key << "status" << YAML::Value << YAML::BeginMap << YAML::Key << "listen" << YAML::Value
      << (c.status.listen.empty() ? std::string("off") : c.status.listen) << YAML::EndMap;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

std::vector<std::string> restart_required(const config& a, const config& b) {
    std::vector<std::string> out;
    auto diff = [&](bool differs, std::string key) {
        if (differs) out.push_back(std::move(key));
    };
    diff(a.spool != b.spool, "spool");
    diff(a.outputs != b.outputs, "outputs");
    diff(a.default_provider != b.default_provider, "default_provider");
    diff(a.max_brief_bytes != b.max_brief_bytes, "max_brief_bytes");
    diff(a.max_output_bytes != b.max_output_bytes, "max_output_bytes");
    diff(a.settle != b.settle, "settle_ms");
    diff(a.max_concurrent_downloads != b.max_concurrent_downloads, "max_concurrent_downloads");
    diff(a.proxy.from_environment != b.proxy.from_environment || a.proxy.url != b.proxy.url ||
             a.proxy.no_proxy != b.proxy.no_proxy,
         "proxy");
    diff(a.status.listen != b.status.listen, "status.listen");
    diff(a.webhooks.enabled != b.webhooks.enabled || a.webhooks.listen != b.webhooks.listen ||
             a.webhooks.public_url != b.webhooks.public_url || a.webhooks.max_body_bytes != b.webhooks.max_body_bytes ||
             a.webhooks.tolerance != b.webhooks.tolerance || a.webhooks.key_refetch != b.webhooks.key_refetch,
         "webhooks");
    for (const auto& [name, p] : a.providers) {
        auto it = b.providers.find(name);
        const std::string at = "providers." + name;
        if (it == b.providers.end()) {
            out.push_back(at + " (removed)");
            continue;
        }
        const auto& q = it->second;
        diff(p.base_url != q.base_url, at + ".base_url");
        diff(p.ca_file != q.ca_file, at + ".ca_file");
        diff(p.ca_file_only != q.ca_file_only, at + ".ca_file_only");
        diff(p.timeouts.connect != q.timeouts.connect, at + ".timeouts.connect_ms");
        diff(p.timeouts.request != q.timeouts.request, at + ".timeouts.request_ms");
        diff(p.timeouts.download_idle != q.timeouts.download_idle, at + ".timeouts.download_idle_ms");
        diff(p.timeouts.download_min_bytes_per_s != q.timeouts.download_min_bytes_per_s, at + ".timeouts.download_min_bytes_per_s");
        diff(p.timeouts.download_rate_window != q.timeouts.download_rate_window, at + ".timeouts.download_rate_window_ms");
        diff(p.webhook_secret_file != q.webhook_secret_file || p.webhook_secret_env != q.webhook_secret_env,
             at + ".webhook_secret");
    }
    for (const auto& [name, q] : b.providers)
        if (!a.providers.count(name)) out.push_back("providers." + name + " (added)");
    return out;
}

}  // namespace briefd::config
