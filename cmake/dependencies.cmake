# Finds every dependency the ordinary CMake way; a missing one stops the configure with one
# line naming the Debian package that provides it.

function(c10k_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "c10k: ${what} not found: apt-get install ${package}")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(fmt QUIET CONFIG)
c10k_require(fmt_FOUND "fmt" "libfmt-dev")

find_package(PkgConfig QUIET)
c10k_require(PKG_CONFIG_FOUND "pkg-config" "pkg-config")
pkg_check_modules(URING QUIET IMPORTED_TARGET liburing>=2.3)
c10k_require(URING_FOUND "liburing >= 2.3" "liburing-dev")

find_package(Boost 1.74 QUIET CONFIG COMPONENTS context)
c10k_require(Boost_FOUND "Boost.Context" "libboost-context-dev")

find_package(OpenSSL 3 QUIET)
c10k_require(OPENSSL_FOUND "OpenSSL 3" "libssl-dev")

if(C10K_BUILD_EXAMPLES OR C10K_BUILD_BENCH)
  find_package(CLI11 QUIET CONFIG)
  c10k_require(CLI11_FOUND "CLI11" "libcli11-dev")
endif()

if(C10K_BUILD_TESTS)
  find_package(GTest QUIET CONFIG)
  c10k_require(GTest_FOUND "GoogleTest" "libgtest-dev")
endif()
