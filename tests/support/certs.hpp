// A throwaway PKI for TLS tests: a CA and a server certificate for 127.0.0.1, ::1 and localhost,
// made with the openssl command-line tool at test time (nothing is committed).
#pragma once

#include <filesystem>

namespace briefd::testing {

struct test_pki {
    std::filesystem::path ca_file;    ///< PEM, the CA clients should trust
    std::filesystem::path cert_file;  ///< PEM, the server certificate (signed by the CA)
    std::filesystem::path key_file;   ///< PEM, the server private key
};

/// Creates the files in `dir` (which must exist). Throws std::runtime_error if openssl fails.
test_pki make_test_pki(const std::filesystem::path& dir);

}  // namespace briefd::testing
