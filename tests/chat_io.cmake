# netlab-chat's portable pieces (issue 14), tested on Linux and under wine alike: the console
# line editor and UTF-16 <-> UTF-8 (chat_line), the --key-file reader (chat_key), the wait and
# input layer (chat_io: chat_io_posix.c here, chat_io_win.c on Windows). Included from
# tests/CMakeLists.txt and tests/windows/windows.cmake.
set(_chat_ex ${PROJECT_SOURCE_DIR}/examples)
if(WIN32)
  set(_chat_io_src ${_chat_ex}/chat_io_win.c)
else()
  set(_chat_io_src ${_chat_ex}/chat_io_posix.c)
endif()
netlab_unit_test(test_chat_line netlab)
target_sources(test_chat_line PRIVATE ${_chat_ex}/chat_line.c ${_chat_ex}/chat_text.c)
netlab_unit_test(test_chat_key netlab)
target_sources(test_chat_key PRIVATE ${_chat_ex}/chat_key.c)
netlab_unit_test(test_chat_io netlab)
target_sources(test_chat_io PRIVATE ${_chat_io_src} ${_chat_ex}/chat_line.c ${_chat_ex}/chat_text.c)
add_executable(chat_io_cat unit/chat_io_cat.c ${_chat_io_src} ${_chat_ex}/chat_line.c
               ${_chat_ex}/chat_text.c)
target_compile_definitions(chat_io_cat PRIVATE _GNU_SOURCE)
target_compile_options(chat_io_cat PRIVATE ${NETLAB_WARNINGS})
target_link_libraries(chat_io_cat PRIVATE netlab)
foreach(t test_chat_line test_chat_key test_chat_io chat_io_cat)
  target_include_directories(${t} PRIVATE ${_chat_ex})
  if(NETLAB_FORCE_PORTABLE_POSIX) # chat_io's pselect() wait, as on macOS
    target_compile_definitions(${t} PRIVATE CHAT_IO_NO_PPOLL)
  endif()
  if(WIN32)
    target_link_libraries(${t} PRIVATE ws2_32)
  endif()
endforeach()
add_test(NAME chat_io_input
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/unit/chat_io_input.sh $<TARGET_FILE:chat_io_cat>
          ${CMAKE_CROSSCOMPILING_EMULATOR})
set_tests_properties(test_chat_line test_chat_key test_chat_io chat_io_input PROPERTIES
  LABELS "unit;chat" TIMEOUT 120)
if(WIN32)
  set_tests_properties(test_chat_line test_chat_key test_chat_io chat_io_input PROPERTIES
    ENVIRONMENT "WINEDEBUG=-all,err+module")
endif()

# The pieces together under wine: a keyed chat with a Linux netlab-chat (tests/windows/).
if(WIN32)
  add_executable(chat_io_peer unit/chat_io_peer.c ${_chat_io_src} ${_chat_ex}/chat_key.c
                 ${_chat_ex}/chat_line.c ${_chat_ex}/chat_text.c)
  target_compile_options(chat_io_peer PRIVATE ${NETLAB_WARNINGS})
  target_include_directories(chat_io_peer PRIVATE ${_chat_ex})
  target_link_libraries(chat_io_peer PRIVATE netlab ws2_32)
  if(NETLAB_NATIVE_BUILD)
    add_test(NAME windows.chat_io_keyed
      COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/windows/chat_io_keyed.sh
              ${NETLAB_NATIVE_BUILD}/examples/netlab-chat $<TARGET_FILE:chat_io_peer>)
    set_tests_properties(windows.chat_io_keyed PROPERTIES LABELS "integration;windows;chat"
      TIMEOUT 120 ENVIRONMENT "WINEDEBUG=-all,err+module")
  endif()
endif()
