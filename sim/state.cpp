#include "state.hpp"

#include <cstdio>

namespace briefd::sim {

std::string sim_state::uuid(std::mt19937_64& g) {
    const std::uint64_t a = g(), b = g();
    unsigned char u[16];
    for (int i = 0; i < 8; ++i) {
        u[i] = static_cast<unsigned char>(a >> (8 * i));
        u[8 + i] = static_cast<unsigned char>(b >> (8 * i));
    }
    u[6] = static_cast<unsigned char>((u[6] & 0x0F) | 0x40);  // version 4
    u[8] = static_cast<unsigned char>((u[8] & 0x3F) | 0x80);  // RFC 4122 variant
    char out[37];
    std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                  u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return out;
}

}  // namespace briefd::sim
