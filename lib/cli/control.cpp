#include "cli/control.hpp"

#include "core/error.hpp"
#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <optional>

namespace briefd::cli {

namespace asio = boost::asio;

daemon_reply call_daemon(std::string_view listen, boost::beast::http::verb method,
                         const std::vector<std::string>& segments,
                         std::chrono::milliseconds timeout) {
    daemon_reply r;
    const std::string text = "http://" + std::string(listen) + "/";  // base views into it
    auto base = boost::urls::parse_uri(text);
    if (!base || base->host().empty() || base->port().empty() ||
        base->encoded_path() != "/" || base->has_userinfo()) {
        r.message = "'" + std::string(listen) + "' is not a host:port to reach briefd on";
        return r;
    }
    http::request req;
    req.method = method;
    req.url = *base;
    req.url.set_path("");
    for (const auto& s : segments) req.url.segments().push_back(s);
    req.timeout = timeout;
    req.headers.emplace_back("Accept", "application/json");

    asio::io_context io(1);
    http::client_options opts;
    opts.connect_timeout = timeout;  // loopback: connect is instant or refused
    std::optional<std::pair<std::error_code, http::response>> got;
    std::exception_ptr failure;
    http::client client(io.get_executor(), opts);
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { got = co_await client.async_request(std::move(req)); },
        [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);

    const std::string where = " on " + std::string(listen);
    auto [ec, resp] = std::move(*got);
    if (!ec) {
        r.what = daemon_reply::outcome::answered;
        r.status = resp.status;
        r.body = std::move(resp.body);
        return r;
    }
    if (ec == std::errc::connection_refused) {
        r.what = daemon_reply::outcome::not_running;
        r.message = "briefd is not running (no answer" + where + ")";
    } else if (ec == errc::connect_timeout || ec == errc::read_timeout ||
               ec == errc::write_timeout) {
        r.what = daemon_reply::outcome::no_answer;
        r.message = "briefd did not answer" + where + " within " +
                    std::to_string(timeout.count() / 1000) + " s (" + ec.message() + ")";
    } else {
        r.message = "cannot reach briefd" + where + ": " + ec.message();
    }
    return r;
}

}  // namespace briefd::cli
