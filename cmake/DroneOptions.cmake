# Warnings as errors for Drone's own targets; third-party headers are included as SYSTEM.
add_library(drone_warnings INTERFACE)
target_compile_options(drone_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wpedantic -Werror -Wno-missing-field-initializers)

if(DRONE_SANITIZE STREQUAL "address")
  # GCC 12 warns maybe-uninitialized inside libstdc++'s <regex> once the sanitizers instrument
  # it (a false positive that -Werror would turn into a failed build).
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
elseif(DRONE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT DRONE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "DRONE_SANITIZE must be address, thread or empty, not '${DRONE_SANITIZE}'")
endif()

# Line tables only in RelWithDebInfo: backtraces and sanitizer reports keep file:line, and the
# build takes about a third less time than with full -g (measured on src/spec/loader.cc: 39.6 s
# with -g, 29.1 s with -g1). -DDRONE_FULL_DEBUG_INFO=ON keeps -g, for gdb's locals and types.
option(DRONE_FULL_DEBUG_INFO "Full debug info (-g) in RelWithDebInfo instead of line tables" OFF)
if(NOT DRONE_FULL_DEBUG_INFO)
  add_compile_options($<$<CONFIG:RelWithDebInfo>:-g1>)
endif()

# LLVM's lld where it is installed (scripts/setup.sh installs it): linking the 30 executables
# with GNU ld took seconds each (drone: 5.2 s with ld, 1.0 s with lld).
include(CheckLinkerFlag)
check_linker_flag(CXX -fuse-ld=lld DRONE_HAVE_LLD)
if(DRONE_HAVE_LLD)
  add_link_options(-fuse-ld=lld)
endif()

# Defines drone_<sub> plus the drone::<sub> alias, as every subsystem folder does.
function(drone_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(drone_${name} STATIC ${ARG_SOURCES})
  add_library(drone::${name} ALIAS drone_${name})
  target_include_directories(drone_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(drone_${name} PUBLIC ${ARG_DEPS} PRIVATE drone_warnings)
endfunction()

# Test sources (not the libraries they test) at -Og in RelWithDebInfo: they compile a quarter to
# a third faster than at -O2 (src/spec/loader_test.cc: 13.8 s -> 8.0 s), and what they measure
# runs in the libraries, still at -O2.
function(drone_test_compile_options target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:RelWithDebInfo>:-Og>)
endfunction()

# A unit test beside its sources: drone_unit_test(histogram_test SOURCES histogram_test.cc DEPS drone::metrics)
function(drone_unit_test name)
  if(NOT DRONE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  drone_test_compile_options(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} drone_testutil GTest::gtest GTest::gmock GTest::gtest_main drone_warnings)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
endfunction()
