# Tests for issue 5: the concurrent server, batch UDP, bulk send_all, the echo program and a
# smoke run of bench/run. Included from tests/CMakeLists.txt.
find_package(PkgConfig REQUIRED)
pkg_check_modules(NLT_CMOCKA REQUIRED IMPORTED_TARGET cmocka)
find_package(Threads REQUIRED)

function(netlab_server_test name)
  cmake_parse_arguments(A "" "TIMEOUT;LABELS" "SOURCES;LIBS;DEFS;OPTS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS} PkgConfig::NLT_CMOCKA Threads::Threads)
  target_compile_options(${name} PRIVATE ${NETLAB_WARNINGS} ${A_OPTS})
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE ${A_DEFS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()

netlab_server_test(test_server SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_server.c
  LIBS netlab::netlab TIMEOUT 120 LABELS "integration;server")
# The same tests against the poll() event queue that non-Linux systems use: server.c and
# evq_poll.c are compiled into the test, ahead of the static library's epoll copy.
netlab_server_test(test_server_poll
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_server.c ${PROJECT_SOURCE_DIR}/lib/server.c
          ${PROJECT_SOURCE_DIR}/lib/evq_poll.c
  LIBS netlab_static TIMEOUT 120 LABELS "integration;server")
target_include_directories(test_server_poll PRIVATE ${PROJECT_SOURCE_DIR}/lib)
netlab_server_test(test_udp_batch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_udp_batch.c
  LIBS netlab::netlab TIMEOUT 60 LABELS "unit;udp")
# Static link so that -Wl,--wrap=send reaches the library's calls.
netlab_server_test(test_tcp_bulk SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tcp_bulk.c
  LIBS netlab_static -Wl,--wrap=send TIMEOUT 60 LABELS "unit;tcp")

if(NETLAB_BUILD_EXAMPLES)
  find_package(Python3 COMPONENTS Interpreter)
  add_test(NAME test_echo_server_program
    COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
            ${CMAKE_CURRENT_LIST_DIR}/test_echo_server.py)
  set_tests_properties(test_echo_server_program PROPERTIES TIMEOUT 120
    LABELS "integration;server"
    ENVIRONMENT "NETLAB_ECHO_SERVER=$<TARGET_FILE:netlab-echo-server>")
endif()

# bench/run in quick mode (tiny counts, one run, chart included) so the suite does not rot.
# RUN_SERIAL: it pins processes to CPUs and would disturb timing-sensitive tests around it.
# Without the baselines' packages it skips (exit 77), saying which are missing.
add_test(NAME bench_smoke
  COMMAND ${PROJECT_SOURCE_DIR}/bench/need-tools /usr/bin/python3 ${PROJECT_SOURCE_DIR}/bench/run --quick
          --build-dir ${CMAKE_CURRENT_BINARY_DIR}/bench-build
          --results-dir ${CMAKE_CURRENT_BINARY_DIR}/bench-results)
set_tests_properties(bench_smoke PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE LABELS "bench;smoke"
  SKIP_RETURN_CODE 77)
