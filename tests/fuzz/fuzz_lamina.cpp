// Lamina response parsers: batch response, run id, run, wait, app schema (+ input validation),
// classify_error. The first byte picks the parser; every string kept is valid UTF-8 when it came
// through diagnostics::clean.
#include "core/utf8.hpp"
#include "fuzz_check.hpp"
#include "providers/lamina/api.hpp"
#include "providers/lamina/schema.hpp"

#include <boost/json/parse.hpp>

namespace lamina = briefd::providers::lamina;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned selector = data[0];
    const unsigned small = data[1];
    auto body = briefd::fuzz::as_text(data + 2, size - 2);
    switch (selector % 6) {
        case 0: {
            auto r = lamina::parse_batch_response(body, small % 12);
            if (r) {
                FUZZ_CHECK(r->size() == small % 12);
                for (const auto& i : *r) FUZZ_CHECK(briefd::utf8::is_valid(i.error));
            }
            break;
        }
        case 1: {
            std::string why;
            (void)lamina::parse_run_id(body, why);
            break;
        }
        case 2:
            (void)lamina::parse_run(body);
            break;
        case 3:
            (void)lamina::parse_wait(body);
            break;
        case 4: {
            boost::system::error_code ec;
            auto v = boost::json::parse(body, ec);
            if (ec) break;
            auto schema = briefd::providers::lamina::parse_app_schema(v);
            if (!schema) break;
            // Validate inputs taken from the same document against it (url inputs reach
            // is_http_url, and so Boost.URL).
            briefd::brief::app_run_item run;
            if (const auto* o = v.if_object())
                if (const auto* in = o->if_contains("inputs"); in && in->is_object())
                    run.inputs = in->get_object();
            (void)briefd::providers::lamina::validate_inputs("fuzz.json", 0, run, *schema);
            break;
        }
        case 5: {
            briefd::diagnostics d;
            (void)lamina::classify_error(100 + small * 2, body, d);
            FUZZ_CHECK(briefd::utf8::is_valid(d.message));
            FUZZ_CHECK(briefd::utf8::is_valid(d.provider_code));
            FUZZ_CHECK(briefd::utf8::is_valid(d.request_id));
            break;
        }
    }
    return 0;
}
