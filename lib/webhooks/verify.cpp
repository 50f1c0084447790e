#include "webhooks/verify.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>

namespace briefd::webhooks {

namespace json = boost::json;

namespace {
// No header of any provider comes near this; a longer one is refused before any work is done.
constexpr std::size_t max_header = 4096;
constexpr std::size_t ed25519_sig_size = 64;
constexpr std::size_t sha256_size = 32;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string signed_message(std::string_view ts, std::string_view body) {
    std::string m;
    m.reserve(ts.size() + 1 + body.size());
    m.append(ts).append(1, '.').append(body);
    return m;
}

const json::object* as_object(const json::value* v) {
    return v ? v->if_object() : nullptr;
}

std::string_view str_at(const json::object& o, std::string_view k) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) return {};
    return v->get_string();
}
}  // namespace

std::string_view to_string(verdict v) noexcept {
    switch (v) {
        case verdict::ok:
            return "ok";
        case verdict::unsigned_:
            return "unsigned";
        case verdict::malformed:
            return "malformed signature";
        case verdict::stale:
            return "stale timestamp";
        case verdict::forged:
            return "signature does not verify";
        case verdict::no_key:
            return "no signing key";
    }
    return "unknown";
}

bool equal_ct(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hmac_sha256(std::string_view key, std::string_view msg) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
    static const unsigned char empty = 0;
    HMAC(EVP_sha256(), key.empty() ? static_cast<const void*>(&empty) : key.data(),
         static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

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

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi << 4 | lo);
    }
    return out;
}

std::optional<std::string> from_base64(std::string_view text) {
    // EVP_DecodeBlock reads standard, padded base64: map the url alphabet and pad first.
    std::string s;
    s.reserve(text.size() + 3);
    std::size_t pad = 0;
    for (char c : text) {
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad) return std::nullopt;  // '=' only at the end
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'))
            return std::nullopt;
        s.push_back(c);
    }
    if (pad > 2 || s.size() % 4 == 1) return std::nullopt;
    const std::size_t missing = (4 - s.size() % 4) % 4;
    s.append(missing, '=');
    if (s.empty()) return std::string();
    std::string out(s.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - missing);  // DecodeBlock counts padding as zeros
    return out;
}

std::optional<std::string> decode_digest(std::string_view text, std::size_t size) {
    text = trim(text);
    if (text.size() == size * 2)
        if (auto h = from_hex(text)) return h;
    if (auto b = from_base64(text); b && b->size() == size) return b;
    return std::nullopt;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
    text = trim(text);
    if (text.empty() || text.size() > 16) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
    // Seconds reach 10^11 in the year 5138; a value above it is milliseconds.
    if (v > 100'000'000'000) v /= 1000;
    return v;
}

bool fresh(std::int64_t ts, std::int64_t now, std::chrono::seconds tolerance) {
    auto d = ts > now ? ts - now : now - ts;
    return d <= tolerance.count();
}

// ---- Ed25519 ------------------------------------------------------------------------------

std::optional<ed25519_key> ed25519_key::from_raw(std::string_view raw32, std::string kid) {
    if (raw32.size() != 32) return std::nullopt;
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw32.data()), 32);
    if (!k) return std::nullopt;
    ed25519_key out;
    out.kid_ = std::move(kid);
    out.raw_ = std::string(raw32);
    out.pkey_ = std::shared_ptr<void>(k, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
    return out;
}

bool ed25519_key::verify(std::string_view msg, std::string_view sig) const {
    if (!pkey_ || sig.size() != ed25519_sig_size) return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx) return false;
    // Ed25519 is one-shot: no digest is named, the whole message goes to EVP_DigestVerify.
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                             static_cast<EVP_PKEY*>(pkey_.get())) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(msg.data()),
                            msg.size()) == 1;
}

std::vector<ed25519_key> parse_jwks(std::string_view body, std::string& why) {
    std::vector<ed25519_key> out;
    std::error_code ec;
    json::parse_options opt;
    opt.max_depth = 16;
    auto v = json::parse(body, ec, {}, opt);
    if (ec) {
        why = "signing-key response is not JSON";
        return out;
    }
    const json::object* root = v.if_object();
    if (root && !root->contains("keys") && !root->contains("kty"))
        if (auto* d = as_object(root->if_contains("data"))) root = d;
    if (!root) {
        why = "signing-key response is not a JSON object";
        return out;
    }
    std::vector<const json::object*> jwks;
    if (auto* ks = root->if_contains("keys")) {
        if (auto* a = ks->if_array())
            for (const auto& k : *a)
                if (auto* o = k.if_object()) jwks.push_back(o);
    } else {
        jwks.push_back(root);
    }
    std::size_t skipped = 0;
    for (const auto* k : jwks) {
        auto use = str_at(*k, "use");
        auto alg = str_at(*k, "alg");
        if (str_at(*k, "kty") != "OKP" || str_at(*k, "crv") != "Ed25519" ||
            (!use.empty() && use != "sig") ||
            (!alg.empty() && alg != "EdDSA" && alg != "Ed25519")) {
            ++skipped;
            continue;
        }
        auto raw = from_base64(str_at(*k, "x"));
        std::optional<ed25519_key> key;
        if (raw) key = ed25519_key::from_raw(*raw, std::string(str_at(*k, "kid").substr(0, 128)));
        if (!key) {
            ++skipped;
            continue;
        }
        out.push_back(std::move(*key));
        if (out.size() >= 16) break;  // rotation overlaps have two or three; more is not a key set
    }
    if (out.empty())
        why = jwks.empty() ? "signing-key response has no keys"
                           : "signing-key response has no usable Ed25519 key (" +
                                 std::to_string(skipped) + " skipped)";
    return out;
}

// ---- providers ------------------------------------------------------------------------------

verdict verify_lamina(std::string_view signature, std::string_view timestamp, std::string_view body,
                      const std::vector<ed25519_key>& keys, std::int64_t now,
                      std::chrono::seconds tolerance) {
    if (trim(signature).empty() || trim(timestamp).empty()) return verdict::unsigned_;
    if (signature.size() > max_header || timestamp.size() > max_header) return verdict::malformed;
    auto sig = decode_digest(signature, ed25519_sig_size);
    auto ts = parse_timestamp(timestamp);
    if (!sig || !ts) return verdict::malformed;
    if (!fresh(*ts, now, tolerance)) return verdict::stale;
    if (keys.empty()) return verdict::no_key;
    // The message is the timestamp exactly as sent, so a signer's formatting is never
    // second-guessed.
    const auto msg = signed_message(trim(timestamp), body);
    for (const auto& k : keys)
        if (k.verify(msg, *sig)) return verdict::ok;
    return verdict::forged;
}

verdict verify_hrizn(std::string_view signature, std::string_view body, std::string_view secret) {
    signature = trim(signature);
    if (signature.empty()) return verdict::unsigned_;
    if (signature.size() > max_header) return verdict::malformed;
    constexpr std::string_view scheme = "sha256=";
    if (signature.size() < scheme.size() || !iequals(signature.substr(0, scheme.size()), scheme))
        return verdict::malformed;
    auto mac = decode_digest(signature.substr(scheme.size()), sha256_size);
    if (!mac) return verdict::malformed;
    return equal_ct(hmac_sha256(secret, body), *mac) ? verdict::ok : verdict::forged;
}

std::optional<layers_signature> parse_layers_signature(std::string_view header) {
    if (header.size() > max_header) return std::nullopt;
    layers_signature out;
    bool have_t = false;
    std::size_t items = 0;
    while (!header.empty()) {
        auto comma = header.find(',');
        auto item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        if (item.empty()) continue;  // "t=1,,v1=…" or a trailing comma
        if (++items > 16) return std::nullopt;
        auto eq = item.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        auto key = trim(item.substr(0, eq));
        auto value = trim(item.substr(eq + 1));
        if (key == "t") {
            if (have_t) return std::nullopt;  // two timestamps: which one was signed?
            have_t = true;
            out.t = std::string(value);
        } else if (key == "v1") {
            out.v1.emplace_back(value);
        }  // other schemes (v0, a future v2) are not ours to check
    }
    if (!have_t || out.v1.empty()) return std::nullopt;
    return out;
}

verdict verify_layers(std::string_view header, std::string_view body, std::string_view secret,
                      std::int64_t now, std::chrono::seconds tolerance) {
    if (trim(header).empty()) return verdict::unsigned_;
    auto sig = parse_layers_signature(header);
    if (!sig) return verdict::malformed;
    auto ts = parse_timestamp(sig->t);
    if (!ts) return verdict::malformed;
    if (!fresh(*ts, now, tolerance)) return verdict::stale;
    const auto mac = hmac_sha256(secret, signed_message(sig->t, body));
    bool any_wellformed = false;
    bool match = false;
    for (const auto& v : sig->v1) {
        auto d = decode_digest(v, sha256_size);
        if (!d) continue;
        any_wellformed = true;
        match |= equal_ct(mac, *d);  // every entry is compared: no early exit to time
    }
    if (!any_wellformed) return verdict::malformed;
    return match ? verdict::ok : verdict::forged;
}

}  // namespace briefd::webhooks
