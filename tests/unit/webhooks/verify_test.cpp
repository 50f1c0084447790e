// The webhook verifiers against known-answer vectors (RFC 8032 §7.1 tests 1–3, RFC 4231 test
// cases 1, 2, 3 and 6), the three providers' header forms, timestamp windows and hostile headers.
#include "webhooks/verify.hpp"
#include "support/webhook_sign.hpp"

namespace wh = briefd::webhooks;
using briefd::testing::ed25519_signer;
using wh::verdict;

namespace {
std::string unhex(std::string_view h) {
    return wh::from_hex(h).value();
}

struct rfc8032_vector {
    const char* secret;
    const char* public_key;
    const char* message;
    const char* signature;
};
// RFC 8032 §7.1, TEST 1, TEST 2, TEST 3.
const rfc8032_vector rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

constexpr std::int64_t now = 1'767'225'600;  // 2026-01-01T00:00:00Z
const std::string body = R"({"data":{"runId":"run_1","status":"completed"}})";
}  // namespace

TEST_CASE("Ed25519 verifies the RFC 8032 test vectors and nothing else") {
    for (const auto& v : rfc8032) {
        CAPTURE(v.public_key);
        auto key = wh::ed25519_key::from_raw(unhex(v.public_key));
        REQUIRE(key);
        const auto msg = unhex(v.message);
        const auto sig = unhex(v.signature);
        CHECK(key->verify(msg, sig));
        // Our own signer (used by the integration tests) derives the same key and signature.
        ed25519_signer s(unhex(v.secret));
        CHECK(s.public_key() == key->raw());
        CHECK(s.sign(msg) == sig);
        // One flipped bit anywhere: no.
        for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
            auto bad = sig;
            bad[i] ^= 1;
            CHECK_FALSE(key->verify(msg, bad));
        }
        CHECK_FALSE(key->verify(msg + "x", sig));
        CHECK_FALSE(key->verify(msg, sig.substr(0, 63)));
    }
    // A signature by test 1's key does not verify under test 2's key.
    auto k2 = wh::ed25519_key::from_raw(unhex(rfc8032[1].public_key));
    CHECK_FALSE(k2->verify("", unhex(rfc8032[0].signature)));
    CHECK_FALSE(wh::ed25519_key::from_raw(std::string(31, 'a')));
}

TEST_CASE("HMAC-SHA256 matches RFC 4231") {
    CHECK(wh::to_hex(wh::hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(wh::to_hex(wh::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(wh::to_hex(wh::hmac_sha256(std::string(20, '\xaa'), std::string(50, '\xdd'))) ==
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    CHECK(wh::to_hex(wh::hmac_sha256(std::string(131, '\xaa'),
                                     "Test Using Larger Than Block-Size Key - Hash Key First")) ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("encodings: hex either case, base64 and base64url, padded or not") {
    CHECK(wh::from_hex("00ffAB") == std::string("\x00\xff\xab", 3));
    CHECK_FALSE(wh::from_hex("0"));
    CHECK_FALSE(wh::from_hex("0g"));
    CHECK(wh::from_base64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") ==
          unhex(rfc8032[0].public_key));
    CHECK(wh::from_base64("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=") ==
          unhex(rfc8032[0].public_key));
    CHECK(wh::from_base64("YQ") == "a");
    CHECK(wh::from_base64("YWI=") == "ab");
    CHECK(wh::from_base64("") == "");
    CHECK_FALSE(wh::from_base64("Y"));      // one char cannot be a byte
    CHECK_FALSE(wh::from_base64("YQ=a"));   // padding in the middle
    CHECK_FALSE(wh::from_base64("YQ==="));  // too much padding
    CHECK_FALSE(wh::from_base64("Y Q"));    // not the alphabet
    CHECK(wh::equal_ct("abc", "abc"));
    CHECK_FALSE(wh::equal_ct("abc", "abd"));
    CHECK_FALSE(wh::equal_ct("abc", "ab"));
}

TEST_CASE("timestamps: seconds or milliseconds, digits only, inside the window") {
    CHECK(wh::parse_timestamp("1767225600") == now);
    CHECK(wh::parse_timestamp("1767225600123") == now);  // milliseconds
    CHECK(wh::parse_timestamp(" 1767225600 ") == now);
    CHECK_FALSE(wh::parse_timestamp(""));
    CHECK_FALSE(wh::parse_timestamp("-5"));
    CHECK_FALSE(wh::parse_timestamp("17672256e2"));
    CHECK_FALSE(wh::parse_timestamp("2026-01-01T00:00:00Z"));
    CHECK_FALSE(wh::parse_timestamp("99999999999999999999"));
    CHECK(wh::fresh(now - 300, now));
    CHECK(wh::fresh(now + 300, now));
    CHECK_FALSE(wh::fresh(now - 301, now));
    CHECK_FALSE(wh::fresh(now + 301, now));
}

TEST_CASE("JWK sets: OKP/Ed25519 keys with a base64url x are kept, the rest skipped") {
    std::string why;
    // The documented response (PROVIDERS.md §1.6).
    auto keys = wh::parse_jwks(
        R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"WR64jqplhAMsH7qC20Mqhm59yZjkiHfzfy6vCMAeIOk","kid":"lamina-webhook-v1","use":"sig","alg":"EdDSA"}]})",
        why);
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].kid() == "lamina-webhook-v1");
    CHECK(keys[0].raw().size() == 32);
    // Two keys during a rotation, one foreign key, one broken x; wrapped in data.
    ed25519_signer a(unhex(rfc8032[0].secret)), b(unhex(rfc8032[1].secret));
    keys = wh::parse_jwks(
        R"({"data":{"keys":[)" + a.jwk("k1") + "," + b.jwk("k2") +
            R"(,{"kty":"RSA","n":"x","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":"short"}]}})",
        why);
    REQUIRE(keys.size() == 2);
    CHECK(keys[1].kid() == "k2");
    // A bare JWK.
    CHECK(wh::parse_jwks(a.jwk("solo"), why).size() == 1);
    // Nothing usable: empty, with a reason.
    for (
        std::string_view bad :
        {"", "[]", "not json", R"({"keys":[]})", R"({"keys":"x"})",
         R"({"keys":[{"kty":"OKP","crv":"X25519","x":"WR64jqplhAMsH7qC20Mqhm59yZjkiHfzfy6vCMAeIOk"}]})",
         R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"WR64jqplhAMsH7qC20Mqhm59yZjkiHfzfy6vCMAeIOk","use":"enc"}]})"}) {
        CAPTURE(bad);
        why.clear();
        CHECK(wh::parse_jwks(bad, why).empty());
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("Lamina: Ed25519 over <timestamp>.<body>, any key, ±300 s") {
    ed25519_signer signer(unhex(rfc8032[2].secret));
    std::string why;
    auto keys = wh::parse_jwks(signer.jwks("v1"), why);
    REQUIRE(keys.size() == 1);
    const auto ts = std::to_string(now);
    const auto sig = briefd::testing::lamina_signature(signer, ts, body);

    CHECK(wh::verify_lamina(sig, ts, body, keys, now) == verdict::ok);
    CHECK(wh::verify_lamina(sig, ts, body, keys, now + 300) == verdict::ok);
    CHECK(wh::verify_lamina(sig, ts, body, keys, now + 301) == verdict::stale);
    CHECK(wh::verify_lamina(sig, ts, body, keys, now - 301) == verdict::stale);
    // Upper-case hex and base64 are the same signature.
    std::string upper = sig;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(wh::verify_lamina(upper, ts, body, keys, now) == verdict::ok);
    // Tampering with the body, the timestamp or the signature.
    CHECK(wh::verify_lamina(sig, ts, body + " ", keys, now) == verdict::forged);
    CHECK(wh::verify_lamina(sig, std::to_string(now + 1), body, keys, now) == verdict::forged);
    auto flipped = sig;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    CHECK(wh::verify_lamina(flipped, ts, body, keys, now) == verdict::forged);
    // Signed by another key; then the rotated set holds both and it verifies.
    ed25519_signer other(unhex(rfc8032[0].secret));
    const auto other_sig = briefd::testing::lamina_signature(other, ts, body);
    CHECK(wh::verify_lamina(other_sig, ts, body, keys, now) == verdict::forged);
    auto both =
        wh::parse_jwks(R"({"keys":[)" + signer.jwk("v1") + "," + other.jwk("v2") + "]}", why);
    CHECK(wh::verify_lamina(other_sig, ts, body, both, now) == verdict::ok);
    // Missing, malformed, keyless.
    CHECK(wh::verify_lamina("", ts, body, keys, now) == verdict::unsigned_);
    CHECK(wh::verify_lamina(sig, "", body, keys, now) == verdict::unsigned_);
    CHECK(wh::verify_lamina(sig.substr(2), ts, body, keys, now) == verdict::malformed);
    CHECK(wh::verify_lamina("zz" + sig.substr(2), ts, body, keys, now) == verdict::malformed);
    CHECK(wh::verify_lamina(sig, "yesterday", body, keys, now) == verdict::malformed);
    CHECK(wh::verify_lamina(std::string(5000, 'a'), ts, body, keys, now) == verdict::malformed);
    CHECK(wh::verify_lamina(sig, ts, body, {}, now) == verdict::no_key);
    // A stale delivery is refused before any key is needed.
    CHECK(wh::verify_lamina(sig, ts, body, {}, now + 1000) == verdict::stale);
}

TEST_CASE("Hrizn: sha256=<hex HMAC of the body>") {
    const std::string secret = "whsec_hrizn_test";
    const auto h = briefd::testing::hrizn_signature(secret, body);
    CHECK(wh::verify_hrizn(h, body, secret) == verdict::ok);
    CHECK(wh::verify_hrizn("SHA256=" + h.substr(7), body, secret) == verdict::ok);
    // The digest in base64 (the encoding is not documented) is the same MAC.
    std::string raw = wh::hmac_sha256(secret, body);
    std::string b64(64, '\0');
    b64.resize(static_cast<std::size_t>(EVP_EncodeBlock(
        reinterpret_cast<unsigned char*>(b64.data()),
        reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()))));
    CHECK(wh::verify_hrizn("sha256=" + b64, body, secret) == verdict::ok);
    CHECK(wh::verify_hrizn(h, body + "x", secret) == verdict::forged);
    CHECK(wh::verify_hrizn(h, body, "another secret") == verdict::forged);
    CHECK(wh::verify_hrizn("", body, secret) == verdict::unsigned_);
    CHECK(wh::verify_hrizn(h.substr(7), body, secret) == verdict::malformed);  // no scheme
    CHECK(wh::verify_hrizn("sha1=" + h.substr(7), body, secret) == verdict::malformed);
    CHECK(wh::verify_hrizn("sha256=", body, secret) == verdict::malformed);
    CHECK(wh::verify_hrizn("sha256=abc", body, secret) == verdict::malformed);
    CHECK(wh::verify_hrizn(h.substr(0, h.size() - 2), body, secret) == verdict::malformed);
}

TEST_CASE("Layers: t=…,v1=…[,v1=…], any v1 may match, ±300 s") {
    const std::string secret = "lsk_new", old_secret = "lsk_old";
    const auto t = std::to_string(now);
    using briefd::testing::layers_signature;
    CHECK(wh::verify_layers(layers_signature({secret}, t, body), body, secret, now) == verdict::ok);
    // Rotation: two v1 entries, ours first or second.
    CHECK(wh::verify_layers(layers_signature({old_secret, secret}, t, body), body, secret, now) ==
          verdict::ok);
    CHECK(wh::verify_layers(layers_signature({secret, old_secret}, t, body), body, secret, now) ==
          verdict::ok);
    CHECK(wh::verify_layers(layers_signature({old_secret}, t, body), body, secret, now) ==
          verdict::forged);
    // Spaces, an unknown scheme and an empty item are tolerated; milliseconds too.
    auto mac = briefd::testing::hmac_sha256_hex(secret, t + "." + body);
    CHECK(wh::verify_layers("t=" + t + ", v0=dead, ,v1=" + mac, body, secret, now) == verdict::ok);
    auto t_ms = t + "000";
    CHECK(wh::verify_layers(layers_signature({secret}, t_ms, body), body, secret, now) ==
          verdict::ok);
    // The window.
    CHECK(wh::verify_layers(layers_signature({secret}, t, body), body, secret, now + 300) ==
          verdict::ok);
    CHECK(wh::verify_layers(layers_signature({secret}, t, body), body, secret, now + 301) ==
          verdict::stale);
    CHECK(wh::verify_layers(layers_signature({secret}, std::to_string(now + 400), body), body,
                            secret, now) == verdict::stale);
    // The timestamp is signed: changing it breaks the MAC.
    CHECK(wh::verify_layers("t=" + std::to_string(now - 1) + ",v1=" + mac, body, secret, now) ==
          verdict::forged);
    CHECK(wh::verify_layers(layers_signature({secret}, t, body), body + "x", secret, now) ==
          verdict::forged);
    // Malformed headers.
    CHECK(wh::verify_layers("", body, secret, now) == verdict::unsigned_);
    for (const std::string& bad : std::vector<std::string>{
             "v1=" + mac, "t=" + t, "t=" + t + ",t=" + t + ",v1=" + mac, "t=" + t + ",v1",
             "t=abc,v1=" + mac, "t=" + t + ",v1=nothex", "garbage", std::string(5000, ',')}) {
        CAPTURE(bad);
        CHECK(wh::verify_layers(bad, body, secret, now) == verdict::malformed);
    }
    std::string many = "t=" + t;
    for (int i = 0; i < 20; ++i) many += ",v1=" + mac;
    CHECK(wh::verify_layers(many, body, secret, now) == verdict::malformed);
    // A malformed v1 beside a good one does not hide the good one.
    CHECK(wh::verify_layers("t=" + t + ",v1=zz,v1=" + mac, body, secret, now) == verdict::ok);
}

TEST_CASE("the Layers header parser keeps every v1 and the timestamp as sent") {
    auto p = wh::parse_layers_signature("t=1700000000,v1=aa,v1=bb");
    REQUIRE(p);
    CHECK(p->t == "1700000000");
    CHECK(p->v1 == std::vector<std::string>{"aa", "bb"});
    CHECK_FALSE(wh::parse_layers_signature("t=1,v1=a,x"));
}
