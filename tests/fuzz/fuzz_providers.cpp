// Every provider's response parsers behind the provider seam (Lamina and Hrizn): submit results,
// status, list pages, SSE events, wait, schema, fetched outputs and error classification. The first
// byte picks the provider and the parser. Run ids a parser accepts must pass valid_run_id only if
// they are used in paths (checked by the engine); cleaned texts are valid UTF-8.
#include "core/utf8.hpp"
#include "fuzz_check.hpp"
#include "providers/hrizn/hrizn.hpp"
#include "providers/lamina/provider.hpp"
#include "providers/layers/layers.hpp"

namespace {
void check_run(const briefd::providers::run_view& r) {
    FUZZ_CHECK(briefd::utf8::is_valid(r.error));
    for (const auto& o : r.outputs) FUZZ_CHECK(briefd::utf8::is_valid(o.error));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 2) return 0;
    static const briefd::providers::lamina::provider lamina;
    static const briefd::providers::hrizn::provider hrizn;
    static const briefd::providers::layers::provider layers;
    // Bit 0 of the first byte picks Hrizn; otherwise the top bit of the second picks Layers.
    const bool is_layers = !(data[0] & 1) && (data[1] & 0x80);
    const briefd::providers::provider& p =
        data[0] & 1 ? static_cast<const briefd::providers::provider&>(hrizn)
        : is_layers ? static_cast<const briefd::providers::provider&>(layers)
                    : lamina;
    const unsigned small = data[1];
    auto body = briefd::fuzz::as_text(data + 2, size - 2);
    switch ((data[0] >> 1) % 8) {
        case 0: {
            std::vector<briefd::brief::item> items;
            for (std::size_t i = 0; i < small % 11; ++i)
                items.push_back(
                    {i, data[0] & 1 ? briefd::brief::item_body(briefd::brief::hrizn_item{})
                        : is_layers ? briefd::brief::item_body(briefd::brief::layers_item{})
                                    : briefd::brief::item_body(briefd::brief::content_item{})});
            std::vector<const briefd::brief::item*> ptrs;
            for (const auto& i : items) ptrs.push_back(&i);
            if (auto r = p.parse_submit(ptrs, body)) {
                FUZZ_CHECK(r->size() == ptrs.size());
                for (const auto& s : *r) FUZZ_CHECK(briefd::utf8::is_valid(s.error));
            }
            break;
        }
        case 1:
            if (auto r = p.parse_status(body)) check_run(*r);
            break;
        case 2:
            if (auto r = p.parse_list(body))
                for (const auto& run : r->runs) check_run(run);
            break;
        case 3: {
            const auto nl = body.find('\n');
            auto type = body.substr(0, nl);
            auto rest = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
            if (auto r = p.parse_event(type, rest)) check_run(*r);
            break;
        }
        case 4:
            if (auto r = p.parse_wait(body)) check_run(r->first);
            break;
        case 5: {
            (void)p.parse_schema(body);
            std::string why;
            if (auto outs = p.parse_expansion(small, body, why))
                for (const auto& o : *outs) FUZZ_CHECK(briefd::utf8::is_valid(o.label));
            break;
        }
        case 6: {
            briefd::providers::output_view out;
            out.type = small & 1 ? "html" : "text";
            const auto nl = body.find('\n');
            std::string why;
            (void)p.fetched_output(
                out, body.substr(0, nl),
                nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1), why);
            (void)briefd::providers::hrizn::article_html(body.substr(0, nl), body);
            (void)p.valid_run_id(body);
            break;
        }
        case 7: {
            briefd::diagnostics d;
            (void)p.classify_error(100 + small * 2, body, d);
            FUZZ_CHECK(briefd::utf8::is_valid(d.message));
            FUZZ_CHECK(briefd::utf8::is_valid(d.provider_code));
            FUZZ_CHECK(briefd::utf8::is_valid(d.request_id));
            break;
        }
    }
    return 0;
}
