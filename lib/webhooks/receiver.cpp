#include "webhooks/receiver.hpp"

#include <boost/url/parse.hpp>

namespace briefd::webhooks {

namespace {
std::string_view header(const boost::beast::http::fields& h, std::string_view name) {
    auto it = h.find(name);
    return it == h.end() ? std::string_view{} : std::string_view(it->value());
}
}  // namespace

std::string base_path(std::string_view public_url) {
    std::string path;
    if (auto u = boost::urls::parse_absolute_uri(public_url)) path = std::string(u->encoded_path());
    while (!path.empty() && path.back() == '/') path.pop_back();
    return path;
}

std::optional<std::string> route(std::string_view base, std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (!target.starts_with(base)) return std::nullopt;
    target.remove_prefix(base.size());
    if (!target.starts_with('/')) return std::nullopt;
    target.remove_prefix(1);
    if (target.ends_with('/')) target.remove_suffix(1);
    if (target.empty() || target.size() > 32) return std::nullopt;
    for (char c : target)
        if (!(c >= 'a' && c <= 'z')) return std::nullopt;  // provider names are lowercase words
    return std::string(target);
}

verdict verify_delivery(std::string_view provider, const boost::beast::http::fields& h,
                        std::string_view body, const credentials& c, std::int64_t now,
                        std::chrono::seconds tolerance) {
    static const std::vector<ed25519_key> none;
    if (provider == "lamina")
        return verify_lamina(header(h, "X-Lamina-Webhook-Signature"),
                             header(h, "X-Lamina-Webhook-Timestamp"), body, c.keys ? *c.keys : none,
                             now, tolerance);
    if (provider == "hrizn") return verify_hrizn(header(h, "X-Webhook-Signature"), body, c.secret);
    if (provider == "layers")
        return verify_layers(header(h, "X-Layers-Signature"), body, c.secret, now, tolerance);
    return verdict::unsigned_;
}

bool key_cache::may_fetch(clock::time_point now) const {
    if (fetching_) return false;
    return !last_start_ || now - *last_start_ >= min_interval_;
}

void key_cache::fetch_started(clock::time_point now) {
    fetching_ = true;
    last_start_ = now;
}

void key_cache::fetch_done(std::vector<ed25519_key> keys) {
    fetching_ = false;
    if (!keys.empty()) keys_ = std::move(keys);
}

void seen_set::insert(std::string key) {
    if (!set_.insert(key).second) return;
    order_.push_back(std::move(key));
    while (order_.size() > capacity_) {
        set_.erase(order_.front());
        order_.pop_front();
    }
}

}  // namespace briefd::webhooks
