// Signing webhook deliveries the way the providers do (PROVIDERS.md §1.6, §2.4, §3.8), for tests
// and benchmarks that play the provider: Ed25519 with a raw private key (Lamina), HMAC-SHA256
// (Hrizn, Layers). OpenSSL does the work; the caller links OpenSSL::Crypto.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <string>
#include <string_view>

namespace briefd::testing {

inline std::string hex(std::string_view bytes) {
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

/// An Ed25519 key pair from a 32-byte seed (RFC 8032's "secret key").
class ed25519_signer {
  public:
    explicit ed25519_signer(std::string_view seed32)
        : key_(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(seed32.data()),
                                            seed32.size()),
               EVP_PKEY_free) {}
    bool valid() const { return key_ != nullptr; }
    /// The raw 32-byte public key.
    std::string public_key() const {
        std::string out(32, '\0');
        std::size_t n = out.size();
        EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(out.data()), &n);
        out.resize(n);
        return out;
    }
    /// The 64-byte signature of `msg`.
    std::string sign(std::string_view msg) const {
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
        std::string sig(64, '\0');
        std::size_t n = sig.size();
        EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get());
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
        sig.resize(n);
        return sig;
    }
    /// `{"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}]}`.
    std::string jwks(std::string_view kid) const { return R"({"keys":[)" + jwk(kid) + "]}"; }
    std::string jwk(std::string_view kid) const {
        auto raw = public_key();
        std::string b64(4 * ((raw.size() + 2) / 3) + 1, '\0');
        int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
        b64.resize(static_cast<std::size_t>(n));
        for (auto& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
        while (!b64.empty() && b64.back() == '=') b64.pop_back();
        return R"({"kty":"OKP","crv":"Ed25519","x":")" + b64 + R"(","kid":")" + std::string(kid) +
               R"(","use":"sig","alg":"EdDSA"})";
    }

  private:
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

inline std::string hmac_sha256_hex(std::string_view key, std::string_view msg) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static const unsigned char empty = 0;
    HMAC(EVP_sha256(), key.empty() ? static_cast<const void*>(&empty) : key.data(),
         static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), out, &len);
    return hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

/// X-Lamina-Webhook-Signature for `ts` and `body`.
inline std::string lamina_signature(const ed25519_signer& k, std::string_view ts,
                                    std::string_view body) {
    return hex(k.sign(std::string(ts) + "." + std::string(body)));
}
/// X-Webhook-Signature for `body`.
inline std::string hrizn_signature(std::string_view secret, std::string_view body) {
    return "sha256=" + hmac_sha256_hex(secret, body);
}
/// X-Layers-Signature for `t` and `body` under each secret (one v1 each).
inline std::string layers_signature(std::initializer_list<std::string_view> secrets,
                                    std::string_view t, std::string_view body) {
    std::string h = "t=" + std::string(t);
    for (auto s : secrets)
        h += ",v1=" + hmac_sha256_hex(s, std::string(t) + "." + std::string(body));
    return h;
}

}  // namespace briefd::testing
