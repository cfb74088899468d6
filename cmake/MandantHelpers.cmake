# Small wrappers in the style of abseil's CMake/AbseilHelpers.cmake.
#
# mandant_cc_library(NAME foo SRCS a.cc HDRS a.h DEPS x PUBLIC_DEPS y)
#   creates library mandant_foo with alias mandant::foo. PUBLIC_DEPS are the
#   dependencies that appear in the library's headers; DEPS are private.
# mandant_cc_binary(NAME foo SRCS ... DEPS ...)
# mandant_cc_test(NAME foo_test SRCS ... DEPS ... [LABELS unit])
#   registers the test with CTest (SKIP_RETURN_CODE 77: a skipped test shows as
#   "Skipped"); tests/support's gtest main is linked unless NO_MAIN is set.

function(mandant_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS;PUBLIC_DEPS" ${ARGN})
  set(target mandant_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC_DEPS} ${ARG_DEPS})
  endif()
  add_library(mandant::${ARG_NAME} ALIAS ${target})
endfunction()

# In a ThreadSanitizer build, every executable carries the absl::Mutex
# annotations (CMakeLists.txt, tests/support/tsan_absl_sync.cc).
function(mandant_tsan_executable name)
  if(TARGET mandant_tsan_absl_sync)
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:mandant_tsan_absl_sync>)
    target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS})
  endif()
endfunction()

function(mandant_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  mandant_tsan_executable(${ARG_NAME})
endfunction()

function(mandant_cc_test)
  cmake_parse_arguments(ARG "NO_MAIN" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  if(ARG_NO_MAIN)
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock)
  else()
    # gtest's main, but exit status 77 when a test was skipped (see
    # tests/support/skip_exit_code.h), which CTest then shows as "Skipped".
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock
                                              mandant::test_main_skip)
  endif()
  mandant_tsan_executable(${ARG_NAME})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES SKIP_RETURN_CODE 77)
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
