#include "support/certs.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace briefd::testing {

namespace {
void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0)
        throw std::runtime_error("test PKI: command failed: " + cmd);
}
}  // namespace

test_pki make_test_pki(const std::filesystem::path& dir) {
    test_pki p{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
    const auto d = dir.string();
    {
        std::ofstream ext(dir / "san.ext");
        ext << "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
               "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=serverAuth\n";
    }
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=briefd-test-ca"
        " -keyout " + d + "/ca.key -out " + p.ca_file.string());
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost"
        " -keyout " + p.key_file.string() + " -out " + d + "/server.csr");
    run("openssl x509 -req -in " + d + "/server.csr -CA " + p.ca_file.string() + " -CAkey " + d +
        "/ca.key -CAcreateserial -days 2 -extfile " + d + "/san.ext -out " + p.cert_file.string());
    return p;
}

}  // namespace briefd::testing
