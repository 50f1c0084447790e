# CPack: `cpack -G DEB` in the build directory makes briefd_<version>_<arch>.deb.
#
# Configure with -DCMAKE_INSTALL_PREFIX=/usr for a package that follows Debian policy
# (/usr/bin/briefd, /etc/briefd/briefd.yaml). The package installs at the configured prefix, because
# the unit file and the tmpfiles.d entry were written for that prefix (systemd/CMakeLists.txt).

set(CPACK_PACKAGE_NAME briefd)
set(CPACK_PACKAGE_VENDOR "briefd")
set(CPACK_PACKAGE_CONTACT "briefd maintainers <briefd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(STATUS "packaging: install prefix is ${CMAKE_INSTALL_PREFIX}; "
                   "configure with -DCMAKE_INSTALL_PREFIX=/usr for a Debian-policy package")
endif()

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Drop-folder daemon for content-generation APIs\n"
    "briefd watches a queue directory for brief files, submits them in batches to content-generation\n"
    "APIs (Lamina, Hrizn, Layers), tracks each run over Server-Sent Events or polling within the\n"
    "provider's rate limit, downloads the outputs and files each brief as done or failed.")
# Runtime library dependencies (libboost-json1.81.0, libboost-url1.81.0, libssl3, libyaml-cpp0.7,
# libsystemd0, libstdc++6 …) are computed by dpkg-shlibdeps from what the binaries really link.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst runs systemd-sysusers and systemd-tmpfiles; the package only works on a systemd host.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd (>= 247)")

# Files under /etc are conffiles: dpkg keeps an operator's edits across upgrades.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/systemd/debian/postinst
    ${PROJECT_SOURCE_DIR}/systemd/debian/prerm
    ${PROJECT_SOURCE_DIR}/systemd/debian/postrm)
# Listed only when the file is really installed: dpkg-deb refuses a conffile the package lacks.
if(EXISTS ${PROJECT_SOURCE_DIR}/config/briefd.yaml)
    file(WRITE ${CMAKE_BINARY_DIR}/cpack/conffiles "${CMAKE_INSTALL_FULL_SYSCONFDIR}/briefd/briefd.yaml\n")
    list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/cpack/conffiles)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/")
include(CPack)
