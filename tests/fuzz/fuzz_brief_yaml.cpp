#include "brief_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    briefd::fuzz::check_brief("fuzz.yaml", briefd::fuzz::as_text(data, size));
    return 0;
}
