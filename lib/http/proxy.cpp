#include "http/proxy.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace briefd::http {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return r;
}

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// The scheme of "scheme://...", or empty when the text does not start that way.
std::string_view scheme_of(std::string_view url) {
    const auto colon = url.find("://");
    if (colon == std::string_view::npos || colon == 0) return {};
    const auto s = url.substr(0, colon);
    const bool ok = std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '+' || c == '-' || c == '.';
    });
    return ok && std::isalpha(static_cast<unsigned char>(s[0])) ? s : std::string_view{};
}

/// An IP address, or a CIDR range when `prefix` is set; false for host names.
bool parse_ip(std::string_view s, boost::asio::ip::address& a, int& prefix) {
    prefix = -1;
    std::string addr(s);
    if (const auto slash = addr.find('/'); slash != std::string::npos) {
        const std::string bits = addr.substr(slash + 1);
        addr.resize(slash);
        if (bits.empty() || bits.size() > 3 ||
            !std::all_of(bits.begin(), bits.end(), [](unsigned char c) { return std::isdigit(c); }))
            return false;
        prefix = std::stoi(bits);
    }
    boost::system::error_code ec;
    a = boost::asio::ip::make_address(addr, ec);
    if (ec) return false;
    const int max_bits = a.is_v4() ? 32 : 128;
    if (prefix > max_bits) return false;
    return true;
}

bool in_range(const boost::asio::ip::address& target, const boost::asio::ip::address& net,
              int prefix) {
    if (target.is_v4() != net.is_v4()) return false;
    if (prefix < 0) return target == net;
    auto bytes = [](const boost::asio::ip::address& a) {
        std::vector<unsigned char> v;
        if (a.is_v4()) {
            const auto b = a.to_v4().to_bytes();
            v.assign(b.begin(), b.end());
        } else {
            const auto b = a.to_v6().to_bytes();
            v.assign(b.begin(), b.end());
        }
        return v;
    };
    const auto t = bytes(target);
    const auto n = bytes(net);
    for (int bit = 0; bit < prefix; ++bit) {
        const unsigned char mask = static_cast<unsigned char>(0x80u >> (bit % 8));
        if ((t[bit / 8] & mask) != (n[bit / 8] & mask)) return false;
    }
    return true;
}

/// One NO_PROXY entry against a target.
bool entry_matches(std::string_view entry, std::string_view host, std::uint16_t port) {
    if (entry == "*") return true;
    // Split off ":port": "[v6]:port", "name:port", "v4:port"; a bare IPv6 entry has several colons.
    std::string_view what = entry;
    std::string_view port_text;
    if (!what.empty() && what.front() == '[') {
        const auto close = what.find(']');
        if (close == std::string_view::npos) return false;
        if (close + 1 < what.size()) {
            if (what[close + 1] != ':') return false;
            port_text = what.substr(close + 2);
        }
        what = what.substr(1, close - 1);
    } else if (std::count(what.begin(), what.end(), ':') == 1) {
        const auto colon = what.find(':');
        port_text = what.substr(colon + 1);
        what = what.substr(0, colon);
    }
    if (!port_text.empty()) {
        if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(),
                                                 [](unsigned char c) { return std::isdigit(c); }))
            return false;
        if (std::stoul(std::string(port_text)) != port) return false;
    }

    boost::asio::ip::address net;
    int prefix = -1;
    if (parse_ip(what, net, prefix)) {
        boost::system::error_code ec;
        const auto target = boost::asio::ip::make_address(std::string(host), ec);
        return !ec && in_range(target, net, prefix);
    }
    // A host name: itself or any subdomain; leading dots ("*.example.com" too) and a trailing dot
    // are ignored.
    std::string name = lower(what);
    while (!name.empty() && (name.front() == '.' || name.front() == '*')) name.erase(0, 1);
    while (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty()) return false;
    std::string h = lower(host);
    while (!h.empty() && h.back() == '.') h.pop_back();
    if (h == name) return true;
    return h.size() > name.size() && h.compare(h.size() - name.size(), name.size(), name) == 0 &&
           h[h.size() - name.size() - 1] == '.';
}

}  // namespace

proxy_options proxy_options::from_environment(
    const std::function<const char*(const char*)>& getenv) {
    auto get = [&](const char* name) -> std::string {
        const char* v = getenv ? getenv(name) : std::getenv(name);
        return v ? std::string(v) : std::string();
    };
    auto first = [&](std::initializer_list<const char*> names) {
        for (const char* n : names)
            if (auto v = get(n); !v.empty()) return v;
        return std::string();
    };
    proxy_options o;
    o.https_url = first({"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
    o.http_url = first({"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"});
    o.no_proxy = split_no_proxy(first({"no_proxy", "NO_PROXY"}));
    return o;
}

std::string proxy_endpoint::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::variant<proxy_endpoint, std::string> parse_proxy_url(std::string_view text) {
    std::string s(text);
    const auto scheme = lower(scheme_of(s));
    // Checked before Boost.URL sees it: "scheme:" followed by an odd byte trips an assertion in
    // Boost.URL 1.81, and "host:3128" would parse as scheme "host".
    if (scheme.empty()) {
        if (s.find("://") != std::string::npos) return "proxy URL has an invalid scheme";
        s = "http://" + s;
    } else if (scheme != "http") {
        return "proxy URL scheme " + scheme +
               ":// is not supported (only http:// proxies, with CONNECT for https targets)";
    }
    auto u = boost::urls::parse_uri(s);
    if (!u) return "proxy URL is not a valid URL";
    if (!u->has_authority() || u->host_address().empty()) return "proxy URL names no host";
    if (u->has_query() || u->has_fragment() || (!u->path().empty() && u->path() != "/"))
        return "proxy URL must be http://[user:password@]host[:port] (no path or query)";
    proxy_endpoint p;
    p.host = lower(u->host_address());
    if (u->has_port()) {
        // Read here rather than by port_number(), which does not refuse values above 65535.
        const auto text = u->port();
        unsigned long n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n == 0 ||
            n > 65535)
            return "proxy URL has an invalid port";
        p.port = static_cast<std::uint16_t>(n);
    }
    if (u->has_userinfo()) {
        const std::string user = u->user();
        const std::string password = u->has_password() ? std::string(u->password()) : std::string();
        p.authorization = "Basic " + base64(user + ":" + password);
    }
    return p;
}

std::string redact_proxy_url(std::string_view url) {
    std::string s(url);
    const auto start = s.find("://") == std::string::npos ? 0 : s.find("://") + 3;
    const auto end = s.find_first_of("/?#", start);
    const auto at = s.rfind('@', end == std::string::npos ? s.size() : end);
    if (at == std::string::npos || at < start) return s;
    const auto colon = s.find(':', start);
    if (colon == std::string::npos || colon > at) return s;
    return s.substr(0, colon + 1) + "***" + s.substr(at);
}

std::vector<std::string> split_no_proxy(std::string_view value) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : value) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

bool bypasses_proxy(const std::vector<std::string>& no_proxy, std::string_view host,
                    std::uint16_t port) {
    return std::any_of(no_proxy.begin(), no_proxy.end(),
                       [&](const std::string& e) { return entry_matches(e, host, port); });
}

}  // namespace briefd::http
