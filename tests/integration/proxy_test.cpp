// briefd behind a forward proxy: a real CONNECT proxy (tests/support/connect_proxy) on loopback
// between briefd and an HTTPS briefsim, configured by the proxy: key or by HTTPS_PROXY. Every API
// request and download goes through it, the briefs complete, and nothing the proxy could read holds
// the API key.
#include "integration/helpers.hpp"

#include "support/connect_proxy.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <doctest/doctest.h>

#include <thread>

namespace briefd::it {

namespace {

namespace asio = boost::asio;

/// The proxy on its own io_context thread; its records are read after stop().
class proxy_thread {
  public:
    proxy_thread()
        : work_(asio::make_work_guard(ioc_)), proxy_(ioc_), thread_([this] { ioc_.run(); }) {}
    ~proxy_thread() { stop(); }
    std::string url() const { return proxy_.url(); }
    const testing::connect_proxy& stop() {
        if (thread_.joinable()) {
            asio::post(ioc_, [this] {
                proxy_.stop();
                ioc_.stop();
            });
            thread_.join();
        }
        return proxy_;
    }

  private:
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    testing::connect_proxy proxy_;
    std::thread thread_;
};

void run_behind_proxy(rig_options o, proxy_thread& proxy) {
    o.https = true;
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("proxied.json", content_brief("proxied", 3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"proxied.json"});
    CHECK(check_outputs(*r.d, "proxied") >= 3);
    CHECK(r.stat("output_requests_with_api_key") == 0);
    const auto& seen = proxy.stop();
    CHECK(seen.tunnels() >= 1);
    REQUIRE_FALSE(seen.heads().empty());
    // The API's origin is https: its requests went through tunnels (downloads too when the files
    // origin is https; an http one would be sent in absolute-form, without the key).
    CHECK(seen.heads()[0].rfind("CONNECT 127.0.0.1:", 0) == 0);
    CHECK(seen.seen().find(r.key) == std::string::npos);
}

}  // namespace

TEST_CASE("proxy: with proxy.url every request is tunnelled; the proxy never reads the key") {
    proxy_thread proxy;
    rig_options o;
    o.daemon.top_yaml = "proxy:\n  url: " + proxy.url() + "\n";
    run_behind_proxy(o, proxy);
}

TEST_CASE("proxy: HTTPS_PROXY from the environment is honoured when the config has no proxy:") {
    proxy_thread proxy;
    rig_options o;
    o.daemon.env = {{"HTTPS_PROXY", proxy.url()}};
    run_behind_proxy(o, proxy);
}

}  // namespace briefd::it
