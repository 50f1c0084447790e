#include "signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace briefd::sim::webhooks {

namespace json = boost::json;

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::string base64url(std::string_view bytes) {
    std::string b64(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    b64.resize(static_cast<std::size_t>(n));
    std::string out;
    for (char c : b64) {
        if (c == '=') break;
        out.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
    }
    return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len))
        throw std::runtime_error("briefsim: HMAC-SHA256 failed");
    return to_hex({reinterpret_cast<const char*>(mac), len});
}

struct ed25519_key::impl {
    EVP_PKEY* key = nullptr;
    ~impl() { EVP_PKEY_free(key); }
};

ed25519_key::ed25519_key(std::unique_ptr<impl> p) : impl_(std::move(p)) {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    if (!impl_->key || EVP_PKEY_get_raw_public_key(impl_->key, raw, &len) != 1 || len != 32)
        throw std::runtime_error("briefsim: could not make the Ed25519 webhook signing key");
    public_.assign(reinterpret_cast<const char*>(raw), len);
}

ed25519_key::ed25519_key(ed25519_key&&) noexcept = default;
ed25519_key& ed25519_key::operator=(ed25519_key&&) noexcept = default;
ed25519_key::~ed25519_key() = default;

ed25519_key ed25519_key::from_seed(std::string_view seed32) {
    if (seed32.size() != 32) throw std::runtime_error("briefsim: an Ed25519 seed is 32 bytes");
    auto p = std::make_unique<impl>();
    p->key = EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed32.data()), 32);
    return ed25519_key(std::move(p));
}

ed25519_key ed25519_key::generate() {
    auto p = std::make_unique<impl>();
    p->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    return ed25519_key(std::move(p));
}

std::string ed25519_key::sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char sig[64];
    std::size_t len = sizeof sig;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key) != 1 ||
        EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1)
        throw std::runtime_error("briefsim: Ed25519 signing failed");
    return {reinterpret_cast<const char*>(sig), len};
}

namespace {

// SHA-256 of a label, the seed and the key generation: a reproducible 32-byte Ed25519 seed.
std::string derive_seed(std::uint64_t seed, unsigned generation) {
    const std::string label =
        "briefsim lamina webhook key " + std::to_string(seed) + " " + std::to_string(generation);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(label.data(), label.size(), d, &len, EVP_sha256(), nullptr) != 1 || len != 32)
        throw std::runtime_error("briefsim: SHA-256 failed");
    return {reinterpret_cast<const char*>(d), len};
}

}  // namespace

lamina_signer::lamina_signer(std::uint64_t seed)
    : seed_(seed), key_(ed25519_key::from_seed(derive_seed(seed, 1))), kid_("lamina-webhook-v1") {}

json::object lamina_signer::jwks() const {
    return {{"keys", json::array{json::object{{"kty", "OKP"},
                                              {"crv", "Ed25519"},
                                              {"x", x()},
                                              {"kid", kid_},
                                              {"use", "sig"},
                                              {"alg", "EdDSA"}}}}};
}

std::string lamina_signer::signature_hex(std::int64_t timestamp, std::string_view body) const {
    std::string message = std::to_string(timestamp);
    message += '.';
    message += body;
    return to_hex(key_.sign(message));
}

void lamina_signer::rotate() {
    ++generation_;
    key_ = ed25519_key::from_seed(derive_seed(seed_, generation_));
    kid_ = "lamina-webhook-v" + std::to_string(generation_);
}

std::string hrizn_signature(std::string_view secret, std::string_view body) {
    return "sha256=" + hmac_sha256_hex(secret, body);
}

std::string layers_signature(std::int64_t t, std::string_view body,
                             const std::vector<std::string>& secrets) {
    std::string message = std::to_string(t);
    message += '.';
    message += body;
    std::string out = "t=" + std::to_string(t);
    for (const auto& s : secrets) out += ",v1=" + hmac_sha256_hex(s, message);
    return out;
}

std::string forge_hex(std::string sig) {
    if (!sig.empty()) sig[0] = sig[0] == '0' ? '1' : '0';
    return sig;
}

}  // namespace briefd::sim::webhooks
