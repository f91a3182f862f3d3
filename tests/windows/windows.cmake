# The Windows test suite: built with mingw-w64, run by ctest under wine
# (CMAKE_CROSSCOMPILING_EMULATOR, see cmake/mingw-w64-x86_64.cmake). Included from
# tests/CMakeLists.txt, which has registered test_platform already.
#   unit:    test_error, test_endpoint (but zones by Linux interface name), test_frame
#            (libsodium), and
#            test_platform (Winsock through the seam, errors wine cannot produce injected),
#            test_capture (decoder, tracker; live capture NL_ENOTSUP), unit.chat_core (the
#            chat's sans-I/O core), test_udp, test_tcp, test_resolve, test_udp_batch,
#            test_server (POSIX-only cases
#            left out inside them, each saying why; README's platform table lists them).
#            Not here: test_eintr (signals), test_inject / test_tcp_open (-Wl,--wrap).
#   interop: Windows programs talking to Linux ones over loopback (tests/windows/interop.sh),
#            when NETLAB_NATIVE_BUILD names a Linux build tree of the same sources.
netlab_unit_test(test_error netlab)
netlab_unit_test(test_endpoint netlab)
add_executable(test_frame ${CMAKE_CURRENT_LIST_DIR}/../unit/test_frame.c)
target_include_directories(test_frame PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(test_frame PRIVATE netlab_static PkgConfig::CMOCKA)
add_test(NAME unit.frame COMMAND test_frame)
set_tests_properties(unit.frame PROPERTIES LABELS "unit;chat" TIMEOUT 120)

# cmocka is a DLL here: copied beside the tests (CMAKE_RUNTIME_OUTPUT_DIRECTORY, with
# libnetlab.dll), where Windows looks first.
file(GLOB _nl_cmocka_dll ${CMOCKA_LIBRARY_DIRS}/../bin/*cmocka*.dll)
file(COPY ${_nl_cmocka_dll} DESTINATION ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
# The socket tests of tests/unit and tests/ that are not POSIX-shaped, as on Linux; the parts
# that are (descriptor numbers, signals, fcntl) are left out inside them, each saying why.
netlab_unit_test(test_udp netlab)
netlab_unit_test(test_tcp netlab)
netlab_unit_test(test_resolve netlab)
netlab_unit_test(test_capture netlab) # the decoder and tracker; live capture says NL_ENOTSUP
add_executable(test_chat_core ${CMAKE_CURRENT_LIST_DIR}/../unit/test_chat_core.c)
target_include_directories(test_chat_core PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(test_chat_core PRIVATE netlab_static PkgConfig::CMOCKA)
target_compile_options(test_chat_core PRIVATE ${NETLAB_WARNINGS})
add_test(NAME unit.chat_core COMMAND test_chat_core)
set_tests_properties(unit.chat_core PROPERTIES LABELS "unit;chat" TIMEOUT 120)
foreach(t test_udp_batch test_server)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/../${t}.c)
  target_link_libraries(${t} PRIVATE netlab PkgConfig::CMOCKA Threads::Threads)
  target_compile_options(${t} PRIVATE ${NETLAB_WARNINGS})
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
set_tests_properties(test_platform test_error test_endpoint unit.frame test_udp test_tcp
  test_resolve test_capture unit.chat_core test_udp_batch test_server PROPERTIES ENVIRONMENT "WINEDEBUG=-all,err+module")

set(NETLAB_NATIVE_BUILD "" CACHE PATH "A Linux build tree of these sources, for the interop tests")
if(NETLAB_NATIVE_BUILD AND TARGET netlab-udp-client)
  add_test(NAME windows.interop
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/interop.sh ${NETLAB_NATIVE_BUILD}/examples
            ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
  set_tests_properties(windows.interop PROPERTIES LABELS "integration;windows" TIMEOUT 120
    ENVIRONMENT "WINEDEBUG=-all,err+module")
endif()

# ---- netlab-chat.exe with the Linux netlab-chat (win-chat2) ----------------------------------
if(NETLAB_NATIVE_BUILD AND TARGET netlab-chat)
  add_test(NAME windows.chat_interop
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/chat_interop.sh ${NETLAB_NATIVE_BUILD}/examples/netlab-chat
            $<TARGET_FILE:netlab-chat>)
  set_tests_properties(windows.chat_interop PROPERTIES LABELS "integration;windows;chat" TIMEOUT 300
    ENVIRONMENT "WINEDEBUG=-all,err+module")
endif()
