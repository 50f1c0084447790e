// Webhook signatures as the three providers document them (PROVIDERS §1.6, §2.4, §3.8), with
// OpenSSL: Lamina's Ed25519 over "<timestamp>.<raw body>" (hex), Hrizn's HMAC-SHA256 of the body
// ("sha256=<hex>"), Layers' HMAC-SHA256 of "<t>.<body>" ("t=<unix>,v1=<hex>[,v1=<hex>]").
// No I/O: the delivery queue calls these at every attempt, so each retry is signed afresh.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::sim::webhooks {

/// Lower-case hex of `bytes`.
std::string to_hex(std::string_view bytes);
/// base64url without padding (RFC 4648 §5), as JWK members are written.
std::string base64url(std::string_view bytes);

/// HMAC-SHA256(key, message) as lower-case hex. Throws std::runtime_error if OpenSSL fails.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// An Ed25519 key pair (OpenSSL EVP). Move-only.
class ed25519_key {
  public:
    /// The key whose 32-byte private seed is `seed32` (RFC 8032 §5.1.5). Throws
    /// std::runtime_error when OpenSSL refuses it or seed32 is not 32 bytes.
    static ed25519_key from_seed(std::string_view seed32);
    /// A fresh random key pair.
    static ed25519_key generate();

    ed25519_key(ed25519_key&&) noexcept;
    ed25519_key& operator=(ed25519_key&&) noexcept;
    ~ed25519_key();

    /// The 64-byte signature of `message` (PureEdDSA: the whole message, no pre-hash).
    std::string sign(std::string_view message) const;
    /// The raw 32-byte public key.
    const std::string& public_raw() const noexcept { return public_; }

  private:
    struct impl;
    explicit ed25519_key(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
    std::string public_;
};

/// Lamina's signing key as GET /v1/webhooks/signing-key serves it, and its rotation: `rotate()`
/// replaces the key pair (and bumps the kid); signatures made before no longer verify against
/// what the endpoint serves. Keys derive from --seed and the rotation count, so a seeded run
/// signs identically every time.
class lamina_signer {
  public:
    explicit lamina_signer(std::uint64_t seed);

    /// {"keys":[{kty:"OKP",crv:"Ed25519",x,kid,use:"sig",alg:"EdDSA"}]} (not wrapped in data).
    boost::json::object jwks() const;
    /// Hex Ed25519 signature of "<timestamp>.<body>" (PROVIDERS §1.6).
    std::string signature_hex(std::int64_t timestamp, std::string_view body) const;
    void rotate();

    const std::string& kid() const noexcept { return kid_; }
    std::string x() const { return base64url(key_.public_raw()); }

  private:
    std::uint64_t seed_;
    unsigned generation_ = 1;
    ed25519_key key_;
    std::string kid_;
};

/// Hrizn's header value: "sha256=" + hex HMAC-SHA256(secret, body).
std::string hrizn_signature(std::string_view secret, std::string_view body);

/// Layers' header value: "t=<t>,v1=<hex>" with one v1 entry per secret (the current secret
/// first; during a rotation overlap the previous one follows).
std::string layers_signature(std::int64_t t, std::string_view body,
                             const std::vector<std::string>& secrets);

/// `sig` with its first hex digit changed: a well-formed signature that does not verify.
std::string forge_hex(std::string sig);

}  // namespace briefd::sim::webhooks
