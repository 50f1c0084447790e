// Path helpers: sanitised names never contain '/', "..", control bytes or a leading '.'/'-', and
// fit their bound; fitted names fit NAME_MAX; extensions are short ASCII.
#include "fuzz_check.hpp"
#include "store/paths.hpp"

namespace {
bool safe_component(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.front() == '-') return false;
    if (s.find('/') != std::string_view::npos || s.find("..") != std::string_view::npos)
        return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t max = 1 + data[0] % 64;
    auto text = briefd::fuzz::as_text(data + 1, size - 1);
    const auto s = briefd::store::sanitize_component(text, max);
    FUZZ_CHECK(safe_component(s));
    FUZZ_CHECK(s.size() <= max || s == "output");
    const auto half = text.size() / 2;
    const auto f =
        briefd::store::output_file_name(size, data[0], text.substr(0, half), text.substr(half));
    FUZZ_CHECK(safe_component(f) && f.size() <= briefd::store::name_max);
    const auto e = briefd::store::pick_extension(text.substr(0, half), text.substr(half), text);
    FUZZ_CHECK(!e.empty() && e.size() <= 8 && safe_component(e));
    const std::size_t room = 32 + data[0];
    const auto fit = briefd::store::fit_name(text.substr(0, half), text.substr(half), room);
    FUZZ_CHECK(fit.size() <= room);
    if (half + (text.size() - half) <= room) FUZZ_CHECK(fit == text);
    return 0;
}
