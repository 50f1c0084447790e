// Webhook signature verification (DESIGN §12 "Webhooks", PROVIDERS.md §1.6, §2.4, §3.8). Sans-I/O:
// each verifier takes the header values, the raw body bytes, the keys and the current time, and
// says whether the delivery is authentic and fresh. Nothing here parses the body: a delivery is
// verified before any of it is read. OpenSSL does the cryptography (EVP for Ed25519, HMAC() for
// HMAC-SHA256) and every comparison of a MAC is constant-time (CRYPTO_memcmp).
//
//   Lamina  X-Lamina-Webhook-Signature: <hex Ed25519 signature>, X-Lamina-Webhook-Timestamp: <unix
//   s>
//           message "<timestamp>.<body>", any key of GET /v1/webhooks/signing-key (JWKs), ±300 s
//   Hrizn   X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>   (no timestamp is signed)
//   Layers  X-Layers-Signature: t=<unix s>,v1=<hex>[,v1=<hex>…]  HMAC-SHA256(secret, "<t>.<body>"),
//           any v1 may match (secret rotation), ±300 s
//
// Where the providers' documents leave a detail open we accept both readings: a signature or MAC
// may be hex (either case) or base64/base64url; a timestamp may be Unix seconds or milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::webhooks {

/// The outcome of checking one delivery. Everything but `ok` is answered 401 and changes nothing.
enum class verdict {
    ok,
    unsigned_,  ///< a signature or timestamp header is missing
    malformed,  ///< a header is there but not of the documented shape
    stale,      ///< the signed timestamp is outside the tolerance window
    forged,     ///< well-formed, fresh, and no key/secret verifies it
    no_key,     ///< no key to check against (Lamina's key not fetched yet)
};
std::string_view to_string(verdict v) noexcept;

/// How far a signed timestamp may be from now, either way.
inline constexpr std::chrono::seconds default_tolerance{300};

// ---- primitives -----------------------------------------------------------------------------
/// Constant-time equality of two byte strings (the lengths are not secret).
bool equal_ct(std::string_view a, std::string_view b) noexcept;
/// HMAC-SHA256(key, msg), 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view msg);
/// Lowercase hex of `bytes`.
std::string to_hex(std::string_view bytes);
/// Hex (either case, even length) to bytes; nullopt for anything else.
std::optional<std::string> from_hex(std::string_view hex);
/// Base64 or base64url, padded or not, to bytes; nullopt for anything else.
std::optional<std::string> from_base64(std::string_view text);
/// A signature or MAC of `size` bytes as text: hex first (the documented form), else base64(url).
std::optional<std::string> decode_digest(std::string_view text, std::size_t size);
/// A signed timestamp as Unix seconds: decimal digits only (≤ 16 of them); values above 10^11
/// are taken as milliseconds. nullopt for anything else.
std::optional<std::int64_t> parse_timestamp(std::string_view text);
/// |ts - now| within tolerance.
bool fresh(std::int64_t ts, std::int64_t now, std::chrono::seconds tolerance = default_tolerance);

// ---- Ed25519 keys (Lamina) ------------------------------------------------------------------
/// One Ed25519 public key, ready to verify with (the EVP key is made once, when parsed).
class ed25519_key {
  public:
    /// From the raw 32-byte public key; nullopt when OpenSSL refuses it.
    static std::optional<ed25519_key> from_raw(std::string_view raw32, std::string kid = {});
    /// True when `sig` (64 raw bytes) is this key's signature of `msg`.
    bool verify(std::string_view msg, std::string_view sig) const;
    const std::string& kid() const noexcept { return kid_; }
    /// The raw public key (32 bytes).
    const std::string& raw() const noexcept { return raw_; }

  private:
    std::string kid_;
    std::string raw_;
    std::shared_ptr<void> pkey_;  // EVP_PKEY, freed with EVP_PKEY_free
};

/// The keys of a signing-key response: `{"keys":[JWK…]}` (also a bare JWK, or either wrapped in
/// `data`). Only JWKs with kty OKP, crv Ed25519 and a base64url `x` of 32 bytes are kept (a `use`
/// other than "sig" or an `alg` other than EdDSA/Ed25519 is skipped). Empty with `why` when the
/// body has none.
std::vector<ed25519_key> parse_jwks(std::string_view body, std::string& why);

// ---- the three providers --------------------------------------------------------------------
/// Lamina: Ed25519 over "<timestamp>.<body>" by any of `keys`.
verdict verify_lamina(std::string_view signature, std::string_view timestamp, std::string_view body,
                      const std::vector<ed25519_key>& keys, std::int64_t now,
                      std::chrono::seconds tolerance = default_tolerance);

/// Hrizn: "sha256=<digest>" of HMAC-SHA256(secret, body). Hrizn signs no timestamp, so nothing
/// bounds a replay here: the receiver deduplicates on the payload's event id.
verdict verify_hrizn(std::string_view signature, std::string_view body, std::string_view secret);

/// The parts of an X-Layers-Signature header.
struct layers_signature {
    std::string t;                ///< the timestamp exactly as sent (it is part of the message)
    std::vector<std::string> v1;  ///< every v1 digest, as sent
};
/// Parses "t=…,v1=…[,v1=…]" (spaces around items tolerated, unknown schemes such as v0 skipped).
/// nullopt when there is no t, more than one t, no v1, an item without '=', or more than 16 items.
std::optional<layers_signature> parse_layers_signature(std::string_view header);

/// Layers: HMAC-SHA256(secret, "<t>.<body>") equal to any v1.
verdict verify_layers(std::string_view header, std::string_view body, std::string_view secret,
                      std::int64_t now, std::chrono::seconds tolerance = default_tolerance);

}  // namespace briefd::webhooks
