// briefd_state_inodes_bench: what job-state files cost the file system's inode allocator (issue
// 13). Drives store::spare_pool the way the state writer does in a flood — each group holds the
// intents of one batch of jobs, the run ids of the batch before and the removals (filing) of the
// one before that — once with spares (the engine's cap) and once without (cap 0: every replace and
// removal frees an inode), then times plain creates in each directory right afterwards: on ext4
// without a journal each create skips every inode of the block group freed in the last minutes.
//
// A program, not a timed test: it prints figures and asserts nothing. The run with spares goes
// first and keeps its files until the end, so it never sees the other run's freed inodes.
#include "pipeline/state_writer.hpp"
#include "store/spare_inodes.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using briefd::store::file_change;
using briefd::store::spare_pool;
using steady = std::chrono::steady_clock;

namespace {

struct figures {
    double seconds = 0;
    std::uint64_t freed = 0, recycled = 0, new_files = 0;
    double create_us = 0;  // per create afterwards
};

double since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

figures run(const fs::path& dir, std::size_t cap, std::size_t jobs, std::size_t batch,
            std::size_t creates) {
    figures f;
    fs::create_directories(dir);
    spare_pool pool(dir, cap);
    const auto name = [](std::size_t j) { return "job-" + std::to_string(j) + ".state.json"; };
    const std::string intent(600, 'i'), run_id(700, 'r');
    const auto t0 = steady::now();
    const std::size_t batches = (jobs + batch - 1) / batch;
    for (std::size_t b = 0; b < batches + 2; ++b) {
        std::vector<file_change> group;
        auto each = [&](std::size_t of, auto&& add) {
            for (std::size_t j = of * batch; j < std::min(jobs, (of + 1) * batch); ++j) add(j);
        };
        if (b < batches)
            each(b, [&](std::size_t j) { group.push_back({name(j), intent, false, 0640}); });
        if (b >= 1 && b - 1 < batches)
            each(b - 1, [&](std::size_t j) { group.push_back({name(j), run_id, false, 0640}); });
        if (b >= 2) each(b - 2, [&](std::size_t j) { group.push_back({name(j), {}, true, 0640}); });
        for (auto ec : pool.commit(group))
            if (ec) std::fprintf(stderr, "commit: %s\n", ec.message().c_str());
    }
    f.seconds = since(t0);
    f.freed = pool.freed();
    f.recycled = pool.recycled();
    f.new_files = pool.created();
    // Creates right afterwards, in the same directory (as the next claims' state files would be).
    const auto t1 = steady::now();
    for (std::size_t k = 0; k < creates; ++k) {
        auto p = dir / ("after-" + std::to_string(k));
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd >= 0) ::close(fd);
    }
    f.create_us = since(t1) * 1e6 / static_cast<double>(creates ? creates : 1);
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t jobs = 10000, batch = 200, creates = 2000;
    fs::path base = fs::temp_directory_path();
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--jobs")
            jobs = std::stoul(argv[i + 1]);
        else if (a == "--batch")
            batch = std::stoul(argv[i + 1]);
        else if (a == "--creates")
            creates = std::stoul(argv[i + 1]);
        else if (a == "--dir")
            base = argv[i + 1];
        else {
            std::fprintf(stderr,
                         "usage: briefd_state_inodes_bench [--jobs N] [--batch N] [--creates N] "
                         "[--dir PATH]\n");
            return 2;
        }
    }
    if (batch == 0 || jobs == 0) return 2;
    std::string tmpl = (base / "briefd-inodes-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
        std::perror("mkdtemp");
        return 1;
    }
    const fs::path root = tmpl;
    double load[3] = {};
    ::getloadavg(load, 3);
    std::printf(
        "== briefd_state_inodes_bench: %zu jobs (intent, run id, removal), groups of %zu "
        "jobs per step, then %zu creates; load %.2f %.2f %.2f\n",
        jobs, batch, creates, load[0], load[1], load[2]);
    const auto with =
        run(root / "spares", briefd::pipeline::active_spare_cap, jobs, batch, creates);
    const auto without = run(root / "none", 0, jobs, batch, creates);
    for (const auto& [label, f] :
         {std::pair{"with spares (cap 8192)", with}, std::pair{"without spares (cap 0)", without}})
        std::printf(
            "%-24s %6.2f s for the jobs (%.3f ms per job); inodes freed %llu, pooled "
            "%llu, files created %llu; then %.0f us per create\n",
            label, f.seconds, f.seconds * 1e3 / static_cast<double>(jobs),
            static_cast<unsigned long long>(f.freed), static_cast<unsigned long long>(f.recycled),
            static_cast<unsigned long long>(f.new_files), f.create_us);
    std::error_code ec;
    fs::remove_all(root, ec);
    return 0;
}
