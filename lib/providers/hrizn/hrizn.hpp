// Hrizn as a provider (PROVIDERS.md §2, seed 002): articles are created by POST /content/batch
// (1–10 items, each validated on its own: a failed item comes back without an id and with its own
// error) with X-Idempotency-Key, so a retried or uncertain submission never generates twice;
// tracked by polling — one GET /content list request shows many articles' statuses, GET
// /content/{id} is the per-article fallback; an interactive article waits in awaiting_input until
// POST /content/{id}/generate; a complete article is saved from GET /content/{id}/html (text/html,
// or a JSON body with the HTML in it: the docs don't say which) and GET /content/{id}/components.
#pragma once

#include "providers/hrizn/schema.hpp"
#include "providers/provider.hpp"

namespace briefd::providers::hrizn {

/// generating → running, complete(d) → completed, failed, awaiting_input; anything else unknown.
run_phase phase_of(std::string_view status);

/// Extracts the article HTML from a GET /content/{id}/html response: the body itself when it is
/// HTML, else the first string found at data.html, html, data.content, content, data (JSON).
std::optional<std::string> article_html(std::string_view content_type, std::string_view body);

class provider final : public providers::provider {
  public:
    std::string_view name() const override { return "hrizn"; }
    const brief::item_schema& items() const override { return item_schema(); }
    std::string credential_header() const override { return "X-API-Key"; }
    api_call probe() const override;

    std::size_t max_items_per_request() const override { return 10; }
    std::optional<std::string> group_key(const brief::item&) const override {
        return std::string("content");
    }
    std::string idempotency_header() const override { return "X-Idempotency-Key"; }
    api_call submit(const std::vector<const brief::item*>& items) const override;
    std::optional<std::vector<submit_result>> parse_submit(
        const std::vector<const brief::item*>& items, std::string_view body) const override;

    unsigned channels(const brief::item&) const override { return channel_poll | channel_list; }
    bool valid_run_id(std::string_view id) const override;
    api_call status(std::string_view run_id) const override;
    std::optional<run_view> parse_status(std::string_view body) const override;
    api_call list(std::string_view cursor, std::size_t limit) const override;
    std::optional<list_page> parse_list(std::string_view body) const override;

    std::optional<api_call> provide_input(const brief::item& it, std::string_view run_id,
                                          std::string& why) const override;

    std::vector<output_view> outputs(const brief::item& it, const run_view& run) const override;
    std::optional<std::string> fetched_output(const output_view& out, std::string_view content_type,
                                              std::string_view body,
                                              std::string& why) const override;

    std::error_code classify_error(unsigned status, std::string_view body,
                                   diagnostics& diag) const override;
};

}  // namespace briefd::providers::hrizn
