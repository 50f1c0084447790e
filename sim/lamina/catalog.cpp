#include "catalog.hpp"

#include <algorithm>

namespace briefd::sim::lamina {

namespace json = boost::json;

const std::vector<app>& catalogue() {
    static const std::vector<app> apps = {
        {"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4", "Product Shots with Mood Board",
         "Studio-quality product shots styled from a mood board.", "80d4d454-8844-489f-b903-2ad65a414482", false,
         {{"param-upload", "Upload", "url", true, "Product photo URL", {}, std::nullopt},
          {"param-style", "Style", "options", false, "Look of the scene", {"Studio", "Outdoor", "Disney / Pixar"}, "Studio"},
          {"param-aspect", "Aspect Ratio", "options", false, "Output aspect ratio", {"1:1", "4:5", "16:9", "9:16"}, "1:1"},
          {"param-prompt", "Prompt", "text", false, "Extra creative direction", {}, std::nullopt}},
         {{"AI Designer", "image"}, {"AI Designer", "image"}}},
        {"bbb17293-5fe7-4645-8c6e-0745bc28254d", "Premium Catalog 1.0",
         "On-model catalog images from front and back garment photos.", "3c1f6a2e-9f55-4b0e-8a51-2f7f1b8e9d10", false,
         {{"param-front", "Front", "url", true, "Front garment photo URL", {}, std::nullopt},
          {"param-back", "Back", "url", true, "Back garment photo URL", {}, std::nullopt},
          {"param-gender", "Model Gender", "options", false, "Model gender", {"Female", "Male"}, "Female"},
          {"param-location", "Location", "options", false, "Scene", {"Studio", "Street", "Beach"}, "Studio"}},
         {{"Front View", "image"}, {"Back View", "image"}, {"Detail", "image"}, {"Description", "text"}}},
        {"de5cca6b-73aa-4e27-a714-3339024db15d", "Swift Catalog Generation",
         "Fast catalog images from one product photo.", "5b8e2d41-7c3a-4f9e-b6d2-0e4a9c1f7b33", false,
         {{"param-front", "Front", "url", true, "Product photo URL", {}, std::nullopt},
          {"param-bg", "Background", "options", false, "Background", {"White", "Grey", "Lifestyle"}, "White"}},
         {{"Catalog Image", "image"}, {"Catalog Image", "image"}}},
        {"a76e85ec-20b4-4fbc-99ad-055423a868a2", "Product Try on",
         "Virtual try-on of a garment on a person photo.", "9d2c4b6a-1e3f-4a5b-8c7d-6e5f4a3b2c1d", false,
         {{"param-person", "Person", "url", true, "Person or selfie photo URL", {}, std::nullopt},
          {"param-garment", "Garment", "url", true, "Garment photo URL", {}, std::nullopt},
          {"param-fit", "Fit", "options", false, "Fit", {"Regular", "Slim", "Loose"}, "Regular"}},
         {{"Try-on Result", "image"}}},
        {"1afc70fd-cb66-4f44-847d-bdaf7e237be4", "Eyewear Shoot (Multi-Shot 21s Video)",
         "A 21-second multi-shot eyewear video from product photos.", "7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928", true,
         {{"param-image", "Product Image", "url", true, "Eyewear product photo URL", {}, std::nullopt},
          {"param-brief", "Brief", "text", false, "Motion brief", {}, std::nullopt}},
         {{"Video", "video"}}},
        {"ec9b3525-4b72-4083-a6cb-00371672e128", "Performance Marketing Video (V3) Sample",
         "A short performance-marketing reel.", "2f4e6d8c-0b1a-4c3e-9d5f-7a8b9c0d1e2f", true,
         {{"param-image", "Image", "url", true, "Source image URL", {}, std::nullopt},
          {"param-prompt", "Prompt", "text", false, "What the reel should say", {}, std::nullopt},
          {"param-aspect", "Aspect Ratio", "options", false, "Aspect ratio", {"9:16", "1:1", "16:9"}, "9:16"}},
         {{"Reel", "video"}}},
    };
    return apps;
}

const app* find_app(std::string_view id) {
    for (const auto& a : catalogue())
        if (a.id == id) return &a;
    return nullptr;
}

json::object summary_json(const app& a) {
    return {{"appId", a.id}, {"name", a.name}, {"description", a.description}};
}

json::object to_json(const app& a) {
    json::array params;
    for (const auto& p : a.params) {
        json::object o{{"id", p.id}, {"name", p.name}, {"type", p.type}, {"required", p.required},
                       {"description", p.description}};
        if (!p.options.empty()) {
            json::array opts;
            for (const auto& x : p.options) opts.emplace_back(x);
            o["options"] = std::move(opts);
        }
        if (p.default_value) o["default"] = *p.default_value;
        params.emplace_back(std::move(o));
    }
    json::array outs;
    for (std::size_t i = 0; i < a.outputs.size(); ++i)
        outs.emplace_back(json::object{{"index", i}, {"label", a.outputs[i].label}, {"type", a.outputs[i].type}});
    return {{"appId", a.id}, {"name", a.name}, {"description", a.description},
            {"parameters", std::move(params)}, {"outputs", std::move(outs)}};
}

std::vector<std::string> validate_inputs(const app& a, const json::value* inputs) {
    std::vector<std::string> problems;
    if (!inputs || !inputs->is_object()) {
        problems.push_back("inputs: required object keyed by parameter name");
        return problems;
    }
    const auto& in = inputs->get_object();
    for (const auto& kv : in) {
        auto it = std::find_if(a.params.begin(), a.params.end(), [&](const app_param& p) { return p.name == kv.key(); });
        if (it == a.params.end()) problems.push_back(std::string(kv.key()) + ": unknown parameter");
    }
    for (const auto& p : a.params) {
        const json::value* v = in.if_contains(p.name);
        if (!v || v->is_null()) {
            if (p.required && !p.default_value) problems.push_back(p.name + ": missing_no_default (required parameter)");
            continue;
        }
        if (!v->is_string()) {
            problems.push_back(p.name + ": must be a string (" + p.type + ")");
            continue;
        }
        std::string_view s = v->get_string();
        if (p.type == "url" && !(s.starts_with("http://") || s.starts_with("https://")))
            problems.push_back(p.name + ": must be an http(s) URL");
        else if (p.type == "options" && std::find(p.options.begin(), p.options.end(), s) == p.options.end()) {
            std::string list;
            for (const auto& o : p.options) list += (list.empty() ? "" : ", ") + o;
            problems.push_back(p.name + ": '" + std::string(s) + "' is not one of " + list);
        }
    }
    return problems;
}

const content_workflow& image_workflow() {
    static const content_workflow w{"80d4d454-8844-489f-b903-2ad65a414482", "AI Product Photography",
                                    {"AI Designer", "image"}};
    return w;
}

const content_workflow& video_workflow() {
    static const content_workflow w{"ec9b3525-4b72-4083-a6cb-00371672e128", "Performance Marketing Video (V3) Sample",
                                    {"Video Generator", "video"}};
    return w;
}

}  // namespace briefd::sim::lamina
