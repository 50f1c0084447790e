// Lamina as a provider (PROVIDERS.md §1): content items share POST /v1/content/batch (≤ 10, only
// items with the same brandProfileId and campaignId), app runs go one per POST
// /v1/apps/{appId}/runs after their inputs were checked against GET /v1/apps/{appId}; runs are
// followed over SSE, /wait or polling; outputs are URLs (downloaded without the key) or text.
// Lamina has no idempotency key: an uncertain submission is settled by `on_uncertain`.
#pragma once

#include "providers/lamina/api.hpp"
#include "providers/lamina/schema.hpp"
#include "providers/provider.hpp"

namespace briefd::providers::lamina {

/// The neutral phase of a Lamina status word (queued/pending, running/processing, completed,
/// failed, cancelled/canceled; anything else is unknown).
run_phase phase_of(std::string_view status);
/// A parsed Lamina run in neutral terms.
run_view view_of(const run_status& run);

class provider final : public providers::provider {
  public:
    std::string_view name() const override { return "lamina"; }
    const brief::item_schema& items() const override { return item_schema(); }
    std::string credential_header() const override { return "x-api-key"; }
    api_call probe() const override;

    std::size_t max_items_per_request() const override { return max_batch_items; }
    std::optional<std::string> group_key(const brief::item& it) const override;
    api_call submit(const std::vector<const brief::item*>& items) const override;
    std::optional<std::vector<submit_result>> parse_submit(
        const std::vector<const brief::item*>& items, std::string_view body) const override;

    std::optional<std::string> schema_key(const brief::item& it) const override;
    api_call schema_request(std::string_view app_id) const override;
    std::optional<app_schema> parse_schema(std::string_view body) const override;
    std::vector<brief::problem> check_inputs(std::string_view file, const brief::item& it,
                                             const app_schema& schema) const override;

    unsigned channels(const brief::item&) const override {
        return channel_sse | channel_wait | channel_poll;
    }
    bool valid_run_id(std::string_view id) const override;
    api_call status(std::string_view run_id) const override;
    std::optional<run_view> parse_status(std::string_view body) const override;
    api_call stream(std::string_view run_id) const override;
    std::optional<run_view> parse_event(std::string_view type,
                                        std::string_view data) const override;
    api_call wait(std::string_view run_id, std::chrono::seconds timeout) const override;
    std::optional<std::pair<run_view, bool>> parse_wait(std::string_view body) const override;
    std::optional<api_call> cancel(std::string_view run_id) const override;

    std::error_code classify_error(unsigned status, std::string_view body,
                                   diagnostics& diag) const override {
        return lamina::classify_error(status, body, diag);
    }
};

}  // namespace briefd::providers::lamina
