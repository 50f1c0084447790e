#include "providers/lamina/api.hpp"

#include <boost/json.hpp>

namespace briefd::providers::lamina {

std::error_code classify_error(unsigned status, std::string_view body, diagnostics& diag) {
    namespace json = boost::json;
    diag.http_status = static_cast<int>(status);
    bool retryable = false;
    std::error_code parse_ec;
    auto v = json::parse(body, parse_ec);
    if (!parse_ec && v.is_object()) {
        const auto& o = v.get_object();
        if (auto* e = o.if_contains("error")) {
            if (e->is_string()) diag.message = diagnostics::clean(e->get_string());
            else if (auto* eo = e->if_object()) {  // {"error": {"code", "message"}} (Hrizn/Layers style)
                if (auto* m = eo->if_contains("message"); m && m->is_string())
                    diag.message = diagnostics::clean(m->get_string());
                if (auto* c = eo->if_contains("code"); c && c->is_string())
                    diag.provider_code = diagnostics::clean(c->get_string(), 64);
            }
        }
        if (auto* c = o.if_contains("code"); c && c->is_string())
            diag.provider_code = diagnostics::clean(c->get_string(), 64);
        if (auto* r = o.if_contains("requestId"); r && r->is_string())
            diag.request_id = diagnostics::clean(r->get_string(), 128);
        if (auto* r = o.if_contains("retryable"); r && r->is_bool()) retryable = r->get_bool();
        if (auto* d = o.if_contains("details"); d && d->is_array() && !d->get_array().empty())
            diag.message += " (" + diagnostics::clean(json::serialize(*d), 512) + ")";
    } else if (!body.empty()) {
        diag.message = diagnostics::clean(body, 256);  // plain-text bodies (older 429 page)
    }

    if (status == 429) return errc::rate_limited;
    if (status == 401) return errc::unauthorized;
    if (status == 402) return errc::payment_required;
    if (status == 403) return errc::forbidden;
    if (status == 404) return errc::not_found;
    if (status >= 500 || retryable) return errc::server_error;
    if (status >= 400) return errc::rejected;
    return errc::unexpected_status;
}

}  // namespace briefd::providers::lamina
