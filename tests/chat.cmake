# Tests of the point-to-point chat (issue 3). Included from tests/CMakeLists.txt.
#   unit:        CMocka tests of the frame codec and of the session through a fault-injecting
#                relay (tests/unit/)
#   integration: pytest driving netlab-chat processes (tests/integration/)
#   fuzz:        a bounded libFuzzer run of the frame decoder (NETLAB_BUILD_FUZZ, clang)
set(NETLAB_PYTHON /usr/bin/python3 CACHE FILEPATH "Python used by the integration tests")

find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
if(CMOCKA_FOUND)
  foreach(t frame chat chat_core chat_room)
    if(NOT EXISTS ${CMAKE_CURRENT_LIST_DIR}/unit/test_${t}.c)
      continue()
    endif()
    add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/unit/test_${t}.c)
    target_compile_definitions(test_${t} PRIVATE _GNU_SOURCE)
    target_compile_options(test_${t} PRIVATE ${NETLAB_WARNINGS})
    target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/lib)
    target_link_libraries(test_${t} PRIVATE netlab_static PkgConfig::CMOCKA)
    add_test(NAME unit.${t} COMMAND test_${t})
    set_tests_properties(unit.${t} PROPERTIES LABELS "unit;chat" TIMEOUT 120)
  endforeach()
else()
  message(WARNING "cmocka not found (Debian: libcmocka-dev): chat unit tests not built")
endif()

if(TARGET netlab-chat)
  foreach(t loopback plain lossy terminal lifecycle room room_bridge room_lossy room_hostile
            room_terminal)
    if(NOT EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/test_chat_${t}.py)
      continue()
    endif()
    add_test(NAME integration.chat_${t}
      COMMAND ${NETLAB_PYTHON} -m pytest -q -rs -s -p no:cacheprovider
              ${CMAKE_CURRENT_LIST_DIR}/integration/test_chat_${t}.py)
    set_tests_properties(integration.chat_${t} PROPERTIES
      ENVIRONMENT "NETLAB_CHAT=$<TARGET_FILE:netlab-chat>"
      LABELS "integration;chat" TIMEOUT 180 SKIP_RETURN_CODE 77)
  endforeach()
endif()

# Issue 10's protocol points (peer-lost bound, drain on leave, squatter, keys, calling nobody).
if(TARGET netlab-chat AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/integration/test_chat_protocol.py)
  add_test(NAME integration.chat_protocol
    COMMAND ${NETLAB_PYTHON} -m pytest -q -rs -s -p no:cacheprovider
            ${CMAKE_CURRENT_LIST_DIR}/integration/test_chat_protocol.py)
  set_tests_properties(integration.chat_protocol PROPERTIES
    ENVIRONMENT "NETLAB_CHAT=$<TARGET_FILE:netlab-chat>"
    LABELS "integration;chat" TIMEOUT 180 SKIP_RETURN_CODE 77)
endif()

option(NETLAB_BUILD_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(NETLAB_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NETLAB_BUILD_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()
  add_executable(fuzz_frame ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_frame.c
                 ${PROJECT_SOURCE_DIR}/lib/frame.c)
  target_compile_definitions(fuzz_frame PRIVATE _GNU_SOURCE NETLAB_HAVE_SODIUM)
  target_include_directories(fuzz_frame PRIVATE ${PROJECT_SOURCE_DIR}/lib
                             ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined ${NETLAB_WARNINGS})
  target_link_options(fuzz_frame PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_frame PRIVATE sodium)
  # A copy of the corpus, so that the run's discoveries do not land in the source tree.
  add_test(NAME fuzz.frame
    COMMAND ${CMAKE_COMMAND} -E env sh -c
      "rm -rf corpus-frame && cp -r ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/frame corpus-frame && $<TARGET_FILE:fuzz_frame> -max_total_time=30 -timeout=5 corpus-frame")
  set_tests_properties(fuzz.frame PROPERTIES LABELS "fuzz;chat" TIMEOUT 90)
endif()
