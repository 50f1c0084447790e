// Forward-proxy routing for the HTTP client, sans-I/O: parsing a proxy URL, reading the proxy
// environment variables the way curl does, and deciding from NO_PROXY whether a target bypasses the
// proxy. The client (client.cpp) does the CONNECT exchange and the absolute-form requests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::http {

/// Which proxy requests go through. Empty URLs: direct.
struct proxy_options {
    std::string https_url;  ///< for https targets (CONNECT tunnel, TLS end to end to the target)
    std::string http_url;   ///< for http targets (absolute-form requests to the proxy)
    /// Targets that go direct (NO_PROXY entries, curl's rules): "*" is every target; a host name
    /// matches itself and its subdomains (a leading dot is ignored); an IP address matches itself
    /// and a CIDR range ("10.0.0.0/8", "fd00::/8") the addresses in it; any entry may end in
    /// ":port" (IPv6 then in brackets) to match that port only.
    std::vector<std::string> no_proxy;

    bool empty() const { return https_url.empty() && http_url.empty(); }

    /// From the environment, as curl reads it: https_proxy / HTTPS_PROXY for https targets,
    /// http_proxy / HTTP_PROXY for http targets, all_proxy / ALL_PROXY for either when the specific
    /// one is unset, no_proxy / NO_PROXY (comma- or space-separated). The lower-case name wins when
    /// both spellings are set. `getenv` is a parameter for tests.
    static proxy_options from_environment(
        const std::function<const char*(const char*)>& getenv = nullptr);
};

/// A parsed proxy URL.
struct proxy_endpoint {
    std::string host;           ///< host name or IP address (IPv6 without brackets)
    std::uint16_t port = 1080;  ///< curl's default when the URL names none
    std::string authorization;  ///< "Basic base64(user:password)" from the userinfo, or empty
    /// "http://host:port", never the credentials: for messages and logs.
    std::string to_string() const;
};

/// Parses http://[user[:password]@]host[:port][/] (percent-encoded userinfo). A URL without a
/// scheme is taken as http://, as curl does. Anything else (https:// or socks proxies, a path, a
/// query) is an error: the text says what is wrong and never contains the password.
std::variant<proxy_endpoint, std::string> parse_proxy_url(std::string_view url);

/// "http://user:***@host:3128": the URL with any password replaced, for --check and messages.
std::string redact_proxy_url(std::string_view url);

/// Splits a NO_PROXY value on commas and white space, dropping empty entries.
std::vector<std::string> split_no_proxy(std::string_view value);

/// True when a request to host:port goes direct under `no_proxy` (`host` lower-case, IPv6 without
/// brackets, as in http::origin).
bool bypasses_proxy(const std::vector<std::string>& no_proxy, std::string_view host,
                    std::uint16_t port);

}  // namespace briefd::http
