// diagnostics::clean and the UTF-8 repair: the output is always valid UTF-8, bounded, with no
// control characters; valid text survives repair unchanged.
#include "core/error.hpp"
#include "core/utf8.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t max = data[0];
    auto text = briefd::fuzz::as_text(data + 1, size - 1);
    const auto c = briefd::diagnostics::clean(text, max);
    FUZZ_CHECK(c.size() <= max);
    FUZZ_CHECK(briefd::utf8::is_valid(c));
    for (unsigned char ch : c) FUZZ_CHECK(ch >= 0x20 && ch != 0x7f);
    const auto r = briefd::utf8::repair(text);
    FUZZ_CHECK(briefd::utf8::is_valid(r));
    FUZZ_CHECK(briefd::utf8::is_valid(text) == (r == text));
    FUZZ_CHECK(briefd::utf8::repair(r) == r);
    const auto t = briefd::utf8::truncate(text, max);
    FUZZ_CHECK(t.size() <= max && text.substr(0, t.size()) == t);
    if (briefd::utf8::is_valid(text)) FUZZ_CHECK(briefd::utf8::is_valid(t));
    return 0;
}
