// decide_download: one verdict per outcome of a download attempt (download_decider.hpp's table).
#include "pipeline/download_decider.hpp"

#include "core/error.hpp"

using namespace briefd::pipeline;
using briefd::errc;

TEST_CASE("download decider: good bytes are saved; bad bytes are retried, then given up") {
    CHECK(decide_download({{}, false, 0}, 6) == download_verdict::save);
    CHECK(decide_download({{}, true, 0}, 6) == download_verdict::retry);
    CHECK(decide_download({{}, true, 5}, 6) == download_verdict::give_up);
}

TEST_CASE("download decider: transient failures retry until the budget is spent") {
    for (auto e : {errc::download_truncated, errc::read_timeout, errc::server_error, errc::connection_closed,
                   errc::download_too_slow}) {
        CAPTURE(std::error_code(e).message());
        CHECK(decide_download({e, false, 0}, 6) == download_verdict::retry);
        CHECK(decide_download({e, false, 4}, 6) == download_verdict::retry);
        CHECK(decide_download({e, false, 5}, 6) == download_verdict::give_up);
    }
}

TEST_CASE("download decider: what will not heal is given up at once") {
    for (auto e : {errc::body_too_large, errc::unexpected_status, errc::tls_error})
        CHECK(decide_download({e, false, 0}, 6) == download_verdict::give_up);
}

TEST_CASE("download decider: a 404 gets a few attempts (a CDN not yet propagated), then is final") {
    CHECK(decide_download({errc::not_found, false, 0}, 6) == download_verdict::retry);
    CHECK(decide_download({errc::not_found, false, 1}, 6) == download_verdict::retry);
    CHECK(decide_download({errc::not_found, false, 2}, 6) == download_verdict::give_up);
    CHECK(decide_download({errc::not_found, false, 0}, 1) == download_verdict::give_up);
}

TEST_CASE("download decider: a full or read-only disk waits, whatever the attempt count") {
    for (auto e : {std::errc::no_space_on_device, std::errc::read_only_file_system, std::errc::permission_denied})
        CHECK(decide_download({std::make_error_code(e), false, 99}, 6) == download_verdict::wait_for_disk);
    CHECK(decide_download({std::error_code(EDQUOT, std::system_category()), false, 0}, 6) ==
          download_verdict::wait_for_disk);
}

TEST_CASE("download decider: statuses map to errors") {
    CHECK_FALSE(download_status_error(200));
    CHECK_FALSE(download_status_error(206));
    CHECK(download_status_error(404) == errc::not_found);
    CHECK(download_status_error(503) == errc::server_error);
    CHECK(download_status_error(302) == errc::unexpected_status);
    CHECK(download_status_error(403) == errc::unexpected_status);
}

TEST_CASE("download decider: a 2xx body that cannot be the output says why") {
    using briefd::pipeline::body_problem;
    CHECK(body_problem({1000, "image/png", "", "image"}).empty());
    CHECK(body_problem({1000, "application/octet-stream", "identity", "video"}).empty());
    CHECK(body_problem({1000, "text/html; charset=utf-8", "", "text"}).empty());  // text may be HTML
    CHECK(body_problem({1000, "text/html", "", "pending"}).empty());  // type unknown: no guess
    CHECK(body_problem({0, "image/png", "", "image"}) == "empty body");
    CHECK(body_problem({500, "image/png", "gzip", "image"}) ==
          "Content-Encoding gzip, which briefd does not decode (it asked for identity)");
    CHECK(body_problem({500, "image/png", " GZIP ", "image"}).starts_with("Content-Encoding gzip"));
    CHECK(body_problem({2000, "Text/HTML; charset=UTF-8", "", "image"}) ==
          "the files host answered with an HTML page (text/html), not the image");
    CHECK(body_problem({2000, "text/html", "", "video"}).ends_with("not the video"));
}

TEST_CASE("download decider: redirects to http(s) are followed; other schemes and downgrades are not") {
    using briefd::pipeline::redirect_target;
    const boost::urls::url from("https://cdn.example/a/b/x.png?sig=1");
    auto t = redirect_target(from, "https://objects.example/x.png?X-Amz-Signature=ab");
    REQUIRE(t);
    CHECK(t->buffer() == "https://objects.example/x.png?X-Amz-Signature=ab");
    t = redirect_target(from, "/c/y.png");
    REQUIRE(t);
    CHECK(t->buffer() == "https://cdn.example/c/y.png");
    t = redirect_target(from, "//edge.example/z.png#frag");
    REQUIRE(t);
    CHECK(t->buffer() == "https://edge.example/z.png");
    t = redirect_target(from, "HTTPS://Upper.example/q");
    REQUIRE(t);
    CHECK(t->scheme() == "https");
    CHECK_FALSE(redirect_target(from, "http://cdn.example/x.png"));  // https → http
    CHECK(redirect_target(boost::urls::url("http://127.0.0.1:8/x"), "http://127.0.0.1:9/y"));
    CHECK_FALSE(redirect_target(from, ""));
    CHECK_FALSE(redirect_target(from, "ftp://files.example/x.png"));
    CHECK_FALSE(redirect_target(from, "file:///etc/passwd"));
    CHECK_FALSE(redirect_target(from, "javascript:alert(1)"));
    CHECK_FALSE(redirect_target(from, "y.png"));  // a bare relative path: not followed
    CHECK_FALSE(redirect_target(from, "/a b.png"));
    CHECK_FALSE(redirect_target(from, "https://x.example/\xc3\xa9"));
    CHECK(briefd::pipeline::is_redirect(302));
    CHECK(briefd::pipeline::is_redirect(308));
    CHECK_FALSE(briefd::pipeline::is_redirect(304));
    CHECK_FALSE(briefd::pipeline::is_redirect(300));
}
