// Config: load_from_string is total, and what --check prints (to_yaml) loads back to the same
// configuration (so the printed config is the one that runs).
#include "config/config.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    auto r = briefd::config::load_from_string(briefd::fuzz::as_text(data, size), "fuzz.yaml");
    if (auto* e = std::get_if<briefd::config::load_error>(&r)) {
        (void)e->to_string();
        return 0;
    }
    const auto& cfg = std::get<briefd::config::config>(r);
    const auto printed = briefd::config::to_yaml(cfg);
    auto again = briefd::config::load_from_string(printed, "fuzz.yaml");
    FUZZ_CHECK(std::holds_alternative<briefd::config::config>(again));
    FUZZ_CHECK(briefd::config::to_yaml(std::get<briefd::config::config>(again)) == printed);
    return 0;
}
