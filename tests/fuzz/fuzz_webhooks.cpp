// Webhook deliveries (lib/webhooks, DESIGN §12): the signature and timestamp headers of all three
// providers, the digest and timestamp decoders, Lamina's JWK set, the request-target router, and
// the receiver's verify-then-parse path with random bodies.
//
// Input: byte 0 picks the provider (bits 0-1: lamina, hrizn, layers, an unknown one), whether
// the target signs the body itself as the provider would (bit 2), whether it then changes the
// body (bit 3), and the signed timestamp's distance from now (bits 4-7, in 50 s steps, some of
// them outside the ±300 s window). Then "Name: value" header lines, a blank line, and the body.
// Invariants: nothing crashes; a delivery signed here verifies exactly when its timestamp is
// fresh and its body unchanged; one not signed here never verifies (the fuzzer cannot forge a
// MAC or an Ed25519 signature); a verified body reaches the provider's parse_webhook, whose
// event about a run's state names the run, and whose texts are valid UTF-8.
#include "../support/webhook_sign.hpp"
#include "core/utf8.hpp"
#include "fuzz_check.hpp"
#include "header_lines.hpp"
#include "providers/hrizn/hrizn.hpp"
#include "providers/lamina/provider.hpp"
#include "providers/layers/layers.hpp"
#include "webhooks/receiver.hpp"

#include <cstdint>
#include <string>

namespace {

namespace wh = briefd::webhooks;

constexpr std::int64_t now = 1'700'000'000;
const std::string secret = "whsec_fuzz_0123456789";

/// Every decoder on one header value, with the shapes their results must have.
void decoders(std::string_view v) {
    if (auto ts = wh::parse_timestamp(v)) FUZZ_CHECK(*ts >= 0);
    if (auto b = wh::from_hex(v)) FUZZ_CHECK(b->size() * 2 == v.size());
    (void)wh::from_base64(v);
    if (auto d = wh::decode_digest(v, 32)) FUZZ_CHECK(d->size() == 32);
    if (auto d = wh::decode_digest(v, 64)) FUZZ_CHECK(d->size() == 64);
    if (auto s = wh::parse_layers_signature(v)) FUZZ_CHECK(!s->v1.empty() && s->v1.size() <= 16);
    if (auto p = wh::route("/hooks", v)) {
        FUZZ_CHECK(!p->empty() && p->size() <= 32);
        for (char c : *p) FUZZ_CHECK(c >= 'a' && c <= 'z');
    }
    (void)wh::base_path(v);
}

void check_text(const std::string& s) {
    FUZZ_CHECK(briefd::utf8::is_valid(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 1) return 0;
    static const briefd::testing::ed25519_signer signer(std::string(32, '\x5a'));
    static const std::vector<wh::ed25519_key> keys = [] {
        std::string why;
        return wh::parse_jwks(signer.jwks("fuzz-key"), why);
    }();
    static const briefd::providers::lamina::provider lamina;
    static const briefd::providers::hrizn::provider hrizn;
    static const briefd::providers::layers::provider layers;
    FUZZ_CHECK(keys.size() == 1);

    const unsigned mode = data[0];
    static const char* names[] = {"lamina", "hrizn", "layers", "other"};
    const std::string_view provider = names[mode & 3];
    const bool sign = mode & 4;
    const bool tamper = mode & 8;
    const std::int64_t skew = (static_cast<std::int64_t>(mode >> 4) - 8) * 50;  // -400 … +350 s

    auto text = briefd::fuzz::as_text(data + 1, size - 1);
    boost::beast::http::fields h;
    std::string body(briefd::fuzz::read_header_lines(text, h, decoders));
    std::string why;
    for (const auto& k : wh::parse_jwks(body, why)) FUZZ_CHECK(k.raw().size() == 32);

    // The provider's own signature over the body, as its delivery would carry it.
    const std::string ts = std::to_string(now + skew);
    if (sign) {
        if (provider == "lamina") {
            h.set("X-Lamina-Webhook-Signature",
                  briefd::testing::lamina_signature(signer, ts, body));
            h.set("X-Lamina-Webhook-Timestamp", ts);
        } else if (provider == "hrizn") {
            h.set("X-Webhook-Signature", briefd::testing::hrizn_signature(secret, body));
        } else if (provider == "layers") {
            h.set("X-Layers-Signature", briefd::testing::layers_signature({secret}, ts, body));
        }
        if (tamper) body.push_back('\n');
    }
    const wh::credentials creds{secret, &keys};
    const auto v = wh::verify_delivery(provider, h, body, creds, now);
    if (provider == "other") {
        FUZZ_CHECK(v == wh::verdict::unsigned_);
        return 0;
    }
    const bool timed = provider != "hrizn";  // Hrizn signs no timestamp
    const bool expect_ok = sign && !tamper && (!timed || (skew >= -300 && skew <= 300));
    FUZZ_CHECK((v == wh::verdict::ok) == expect_ok);
    if (sign && !tamper && timed && !expect_ok) FUZZ_CHECK(v == wh::verdict::stale);
    if (v != wh::verdict::ok) return 0;

    // Verified: now, and only now, the body is read (webhook_channel.cpp's order).
    const briefd::providers::provider& p =
        provider == "lamina"  ? static_cast<const briefd::providers::provider&>(lamina)
        : provider == "hrizn" ? static_cast<const briefd::providers::provider&>(hrizn)
                              : layers;
    if (auto ev = p.parse_webhook(h, body)) {
        // An event about the run's state names it with an id fit for a request path (one about
        // something else, phase unknown, is acknowledged and ignored by the engine).
        if (ev->run.phase != briefd::providers::run_phase::unknown)
            FUZZ_CHECK(!ev->run.run_id.empty() && p.valid_run_id(ev->run.run_id));
        check_text(ev->event_id);
        check_text(ev->run.run_id);
        check_text(ev->run.status);
        check_text(ev->run.error);
        for (const auto& o : ev->run.outputs) check_text(o.error);
    }
    return 0;
}
