# libFuzzer targets beyond the frame decoder (issue 6). Included from tests/CMakeLists.txt when
# NETLAB_BUILD_FUZZ is on (clang only; tests/chat.cmake checks the compiler).
#   fuzz_endpoint  nl_endpoint_parse / _parse_port / _format, round trip parse(format(ep)) == ep
#   fuzz_args      the example programs' argument parsing, in-process (see fuzz_args.c)
#   fuzz_chat_core the chat's sans-I/O core: two of them through a scripted network and clocks,
#                  with the delivery invariants checked (see fuzz_chat_core.c)
#   fuzz_capture   the wire: nl_capture_decode / _feed / _format on sequences of IP packets
# Each gets a bounded CI run (label fuzz) on a copy of its corpus in tests/fuzz/corpus/<name>/.
# NETLAB_FUZZ_SECONDS sets the length of every bounded run.
set(NETLAB_FUZZ_SECONDS 30 CACHE STRING "Length of each bounded libFuzzer run in ctest (s)")
pkg_check_modules(NL_FUZZ_EDIT REQUIRED IMPORTED_TARGET libedit) # netlab-chat needs it
set(_nl_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# The library once more, instrumented for coverage: the fuzzer steers by the edges it reaches
# in the library, not only in the harness.
get_target_property(_nl_lib_src netlab_objects SOURCES)
list(TRANSFORM _nl_lib_src PREPEND ${PROJECT_SOURCE_DIR}/lib/)
add_library(netlab_fuzzlib STATIC ${_nl_lib_src})
target_compile_definitions(netlab_fuzzlib PRIVATE _GNU_SOURCE NETLAB_HAVE_SODIUM)
target_include_directories(netlab_fuzzlib PUBLIC ${PROJECT_SOURCE_DIR}/include
                           PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_compile_options(netlab_fuzzlib PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                       ${NETLAB_WARNINGS})
target_link_libraries(netlab_fuzzlib PUBLIC sodium)

add_executable(fuzz_endpoint ${CMAKE_CURRENT_LIST_DIR}/fuzz_endpoint.c)
target_compile_options(fuzz_endpoint PRIVATE ${_nl_fuzz_flags} ${NETLAB_WARNINGS})
target_link_options(fuzz_endpoint PRIVATE ${_nl_fuzz_flags})
target_link_libraries(fuzz_endpoint PRIVATE netlab_fuzzlib)

add_executable(fuzz_chat_core ${CMAKE_CURRENT_LIST_DIR}/fuzz_chat_core.c)
target_compile_definitions(fuzz_chat_core PRIVATE _GNU_SOURCE)
target_include_directories(fuzz_chat_core PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_compile_options(fuzz_chat_core PRIVATE ${_nl_fuzz_flags} ${NETLAB_WARNINGS})
target_link_options(fuzz_chat_core PRIVATE ${_nl_fuzz_flags})
target_link_libraries(fuzz_chat_core PRIVATE netlab_fuzzlib)

# The wire's decoder and tracker (issue 15): packets fed through an offline capture.
add_executable(fuzz_capture ${CMAKE_CURRENT_LIST_DIR}/fuzz_capture.c)
target_compile_options(fuzz_capture PRIVATE ${_nl_fuzz_flags} ${NETLAB_WARNINGS})
target_link_options(fuzz_capture PRIVATE ${_nl_fuzz_flags})
target_link_libraries(fuzz_capture PRIVATE netlab_fuzzlib)

# The examples, unchanged, with main and two calls renamed (see the comment in fuzz_args.c).
# Their own warnings are checked in the normal build; the renamed main has no prototype.
set(_nl_examples udp-server udp-client tcp-server tcp-client chat demo echo-server wire)
add_executable(fuzz_args ${CMAKE_CURRENT_LIST_DIR}/fuzz_args.c ${PROJECT_SOURCE_DIR}/examples/chat_text.c
               ${PROJECT_SOURCE_DIR}/examples/chat_room_cli.c ${PROJECT_SOURCE_DIR}/examples/chat_term.c
               ${PROJECT_SOURCE_DIR}/examples/chat_io_posix.c ${PROJECT_SOURCE_DIR}/examples/chat_key.c)
foreach(ex ${_nl_examples})
  string(REPLACE "-" "_" _fn ${ex})
  add_library(fuzz_args_${_fn} OBJECT ${PROJECT_SOURCE_DIR}/examples/netlab-${ex}.c)
  target_compile_definitions(fuzz_args_${_fn} PRIVATE _GNU_SOURCE main=${_fn}_main
                             exit=fuzz_exit open=fuzz_open)
  target_compile_options(fuzz_args_${_fn} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  target_include_directories(fuzz_args_${_fn} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_sources(fuzz_args PRIVATE $<TARGET_OBJECTS:fuzz_args_${_fn}>)
endforeach()
target_compile_definitions(fuzz_args PRIVATE _GNU_SOURCE)
target_compile_options(fuzz_args PRIVATE ${_nl_fuzz_flags} ${NETLAB_WARNINGS})
target_link_options(fuzz_args PRIVATE ${_nl_fuzz_flags})
foreach(fn getaddrinfo nl_udp_open nl_udp_open_bound nl_tcp_listen nl_tcp_connect
           nl_chat_session_open nl_tcp_server_open nl_capture_open
           nl_capture_open_for chat_key_read)
  target_link_options(fuzz_args PRIVATE "LINKER:--wrap=${fn}")
endforeach()
target_link_libraries(fuzz_args PRIVATE netlab_fuzzlib PkgConfig::NL_FUZZ_EDIT)

# A copy of the corpus, so that a run's discoveries do not land in the source tree.
foreach(t endpoint args capture chat_core)
  set(_extra "")
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.dict)
    set(_extra "-dict=${CMAKE_CURRENT_LIST_DIR}/${t}.dict")
  endif()
  add_test(NAME fuzz.${t}
    COMMAND sh -c "rm -rf corpus-${t} && cp -r ${CMAKE_CURRENT_LIST_DIR}/corpus/${t} corpus-${t} && $<TARGET_FILE:fuzz_${t}> -max_total_time=${NETLAB_FUZZ_SECONDS} -timeout=5 -rss_limit_mb=1024 -close_fd_mask=3 -print_final_stats=1 ${_extra} corpus-${t}")
  set_tests_properties(fuzz.${t} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()
