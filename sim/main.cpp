// briefsim: wires the simulator together; all behaviour lives in the components beside this file.
#include "control.hpp"
#include "files.hpp"
#include "hrizn/api.hpp"
#include "hrizn/content.hpp"
#include "lamina/api.hpp"
#include "lamina/runs.hpp"
#include "layers/api.hpp"
#include "options.hpp"
#include "server.hpp"
#include "webhooks/service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
    namespace sim = briefd::sim;
    sim::options opt;
    bool help = false;
    std::string error;
    if (!sim::parse_options(argc, argv, opt, help, error)) {
        std::cerr << "briefsim: " << error << "\n(see briefsim --help)\n";
        return 2;
    }
    if (help) {
        std::cout << sim::help_text();
        return 0;
    }
    try {
        // The counters outlive the io_context: connection frames destroyed with it still touch
        // them.
        sim::stats counters;
        boost::asio::io_context ioc{1};
        sim::sim_state state(opt, counters);
        sim::lamina::run_engine runs(state);
        sim::webhooks::lamina_signer signer(opt.seed);
        sim::lamina::api lamina(state, runs, signer);
        sim::hrizn::content_store content(state);
        sim::hrizn::api hrizn(state, content);
        sim::hrizn::control_surface hrizn_control(hrizn);
        sim::layers::api layers(state);
        sim::layers::control_surface layers_control(layers);
        sim::webhooks::service webhooks(ioc.get_executor(), state, signer, runs, content,
                                        layers.jobs());
        hrizn.subscriptions = [&](const sim::request& req, std::string_view path,
                                  const std::string& key) {
            return webhooks.hrizn_endpoint(req, path, key);
        };
        layers.subscriptions = [&](const sim::request& req, std::string_view path,
                                   const std::string& key) {
            return webhooks.layers_endpoint(req, path, key);
        };
        sim::webhooks::control_surface webhooks_control(webhooks);
        sim::control_surface control(
            state,
            [&](boost::json::object& o) {
                o["runs_total"] = runs.run_count();
                o["credits_used"] = runs.credits_used();
                o["hrizn"].as_object()["items_total"] = content.size();
                auto& l = o["layers"].as_object();
                l["jobs_total"] = layers.jobs().job_count();
                l["running_jobs"] = layers.jobs().running(std::chrono::steady_clock::now());
                l["credits"] = state.opt.layers.credits;
            },
            &hrizn_control, &layers_control, &webhooks_control);
        sim::api_origin api(control, lamina);
        sim::files_origin files(
            state,
            [&](std::string_view run_id, std::size_t index, std::string_view ext) {
                return runs.find_file(run_id, index, ext, std::chrono::steady_clock::now());
            },
            [&](std::string_view container, std::string_view asset, std::string_view ext,
                bool download) { return layers.media(container, asset, ext, download); });
        // No Hrizn key belongs on the Lamina or files origin, no Layers key on any origin but
        // its own: count any that arrives there.
        sim::hrizn_key_watch api_hwatch(state, api, &sim::hrizn_stats::hrizn_key_on_lamina);
        sim::hrizn_key_watch files_hwatch(state, files, &sim::hrizn_stats::hrizn_key_on_files);
        sim::layers_key_watch api_watch(state, api_hwatch,
                                        &sim::layers_stats::layers_key_on_lamina);
        sim::layers_key_watch files_watch(state, files_hwatch,
                                          &sim::layers_stats::layers_key_on_files);
        sim::layers_key_watch hrizn_watch(state, hrizn, &sim::layers_stats::layers_key_on_hrizn);
        sim::server srv(ioc, state, api_watch, files_watch, &hrizn_watch, &layers);
        srv.listen();

        boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            srv.close();
            ioc.stop();
        });
        std::signal(SIGPIPE, SIG_IGN);

        std::cout << "briefsim listening api=" << srv.api_url() << " files=" << srv.files_url()
                  << " hrizn=" << srv.hrizn_url() << sim::hrizn::base_path
                  << " layers=" << srv.layers_url() << std::endl;
        ioc.run();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "briefsim: " << e.what() << "\n";
        return 1;
    }
}
