# Shared by scripts/test and scripts/demo: install what is missing, then configure and build.
# Idempotent: when every package is present it touches nothing.
set -euo pipefail

BRIEFD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BRIEFD_PACKAGES=(g++ cmake ninja-build pkg-config libboost1.81-dev libboost-json1.81-dev
                 libboost-url1.81-dev libssl-dev openssl libyaml-cpp-dev doctest-dev libsystemd-dev
                 systemd dpkg-dev   # systemd-analyze/sysusers/tmpfiles and dpkg-shlibdeps for the install tests
                 groff-base         # the install tests render briefd(8) and fail on any groff warning
                 clang-14 libclang-rt-14-dev  # scripts/fuzz: clang with libFuzzer and the sanitizer runtimes
                 prometheus)  # promtool check metrics + a real Prometheus scraping briefd (tests/integration/ops_test.cpp)

briefd_install_deps() {
    local missing=()
    for p in "${BRIEFD_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "briefd: installing missing build dependencies: ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# briefd_build <build-dir> [extra cmake args...] — configure once, then build everything.
briefd_build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        # ccache, when the machine has it, makes a rebuild of unchanged sources (a fresh clone, the
        # sanitizer build's shared libraries) nearly free; without it nothing changes.
        local launcher=()
        command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
        cmake -S "$BRIEFD_ROOT" -B "$dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
    fi
    cmake --build "$dir" -j "$(nproc)"
}
