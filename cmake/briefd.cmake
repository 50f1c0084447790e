# Helpers that keep every component's CMakeLists.txt to a few lines.
#
# briefd_component(NAME <n> SOURCES ... DEPS ...)
#   A static library `briefd_<n>` from lib/<n>/. Components depend on each other only through DEPS,
#   so a half-finished component never breaks the build of an unrelated one.
# briefd_unit_tests(NAME <n> SOURCES ... DEPS ...)
#   Unit tests of one component: an object library folded into the single `unit_tests` binary,
#   plus `unit_<n>_tests`, a runner with just these tests for a quick edit-compile-test loop.

function(briefd_component)
    cmake_parse_arguments(C "" "NAME" "SOURCES;DEPS" ${ARGN})
    add_library(briefd_${C_NAME} STATIC ${C_SOURCES})
    target_include_directories(briefd_${C_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
    target_link_libraries(briefd_${C_NAME} PUBLIC ${C_DEPS} PRIVATE briefd_warnings)
endfunction()

function(briefd_unit_tests)
    cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS" ${ARGN})
    add_library(unit_${T_NAME} OBJECT ${T_SOURCES})
    target_link_libraries(unit_${T_NAME} PUBLIC ${T_DEPS} doctest::doctest briefd_testing PRIVATE briefd_warnings)
    target_precompile_headers(unit_${T_NAME} REUSE_FROM unit_pch)
    # Built on request only (ninja unit_<n>_tests): CI runs the combined unit_tests.
    add_executable(unit_${T_NAME}_tests EXCLUDE_FROM_ALL $<TARGET_OBJECTS:unit_${T_NAME}>)
    target_link_libraries(unit_${T_NAME}_tests PRIVATE unit_${T_NAME} briefd_doctest_main briefd_warnings)
    target_sources(unit_tests PRIVATE $<TARGET_OBJECTS:unit_${T_NAME}>)
    target_link_libraries(unit_tests PRIVATE unit_${T_NAME})
endfunction()

# BRIEFD_TEST_CODE_OPTIONS: compile options for the code that only drives tests — every target
# under tests/ except the benchmarks and the fuzz targets, plus the unit tests' precompiled header
# and the shared doctest main.
# scripts/test sets -O0: that code compiles 2-3x faster unoptimised, and the code under test (lib/,
# daemon/, sim/) keeps the build type's flags. Empty (the default) changes nothing.
set(BRIEFD_TEST_CODE_OPTIONS "" CACHE STRING "Compile options for test-only code (scripts/test: -O0)")

# briefd_for_each_target(<dir> <function>): calls <function>(<target>) for every target defined in
# <dir> and the folders below it (run deferred, once the whole project has been read).
function(briefd_for_each_target dir fn)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS targets)
        cmake_language(CALL ${fn} ${t})
    endforeach()
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    foreach(d IN LISTS subdirs)
        briefd_for_each_target(${d} ${fn})
    endforeach()
endfunction()

function(briefd_apply_test_code_options t)
    get_target_property(type ${t} TYPE)
    get_target_property(src ${t} SOURCE_DIR)
    string(FIND "${src}/" "${PROJECT_SOURCE_DIR}/tests/" at)
    if((at EQUAL 0 OR t MATCHES "^(unit_|briefd_doctest_main$)") AND NOT type STREQUAL "INTERFACE_LIBRARY"
       AND NOT t MATCHES "bench" AND NOT src MATCHES "/tests/(bench|fuzz)$")
        target_compile_options(${t} PRIVATE ${BRIEFD_TEST_CODE_OPTIONS})
    endif()
endfunction()
if(BRIEFD_TEST_CODE_OPTIONS)
    cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR}
        CALL briefd_for_each_target ${PROJECT_SOURCE_DIR} briefd_apply_test_code_options)
endif()

# BRIEFD_BOOST_PCH: cmake/boost_pch.hpp (Asio, Beast, JSON, URL headers) precompiled once and used by
# every target but briefd_asio; the unit tests' own precompiled header gets it too. It saves 2-4
# CPU-seconds on most files of a cold build. For a tree whose code all compiles with the same flags
# (scripts/test's Debug build): GCC refuses a precompiled header made with other optimisation flags
# (-Winvalid-pch says so) and then reads the headers as text. Off by default: a developer's ccache
# hits matter more than a cold build, and a forced include hides a missing #include.
function(briefd_boost_pch_setup)
    # The Boost.JSON/URL link macros must be the same where the header is made and where it is used.
    add_library(briefd_boost_pch_usage INTERFACE)
    target_link_libraries(briefd_boost_pch_usage INTERFACE Boost::headers Boost::json Boost::url)
    file(WRITE ${CMAKE_BINARY_DIR}/boost_pch.cpp "")
    add_library(briefd_boost_pch OBJECT ${CMAKE_BINARY_DIR}/boost_pch.cpp)
    target_link_libraries(briefd_boost_pch PRIVATE briefd_boost_pch_usage)
    target_precompile_headers(briefd_boost_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/boost_pch.hpp)
    target_link_libraries(unit_pch PRIVATE briefd_boost_pch_usage)
    target_precompile_headers(unit_pch PRIVATE ${PROJECT_SOURCE_DIR}/cmake/boost_pch.hpp)
    cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR}
        CALL briefd_for_each_target ${PROJECT_SOURCE_DIR} briefd_apply_boost_pch)
endfunction()

function(briefd_apply_boost_pch t)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$"
       OR t MATCHES "^(briefd_asio|briefd_boost_pch|briefd_doctest_main|unit_pch)$")
        return()
    endif()
    target_link_libraries(${t} PRIVATE briefd_boost_pch_usage)
    get_target_property(reuse ${t} PRECOMPILE_HEADERS_REUSE_FROM)
    if(NOT reuse)  # the unit tests' object libraries use unit_pch, which has the Boost headers too
        target_precompile_headers(${t} REUSE_FROM briefd_boost_pch)
    endif()
endfunction()
