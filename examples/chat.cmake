# netlab-chat, the point-to-point chat program (issue 3). Included from examples/CMakeLists.txt.
# libedit (BSD licence) gives it line editing and history; it is linked into this program
# only, never into libnetlab.
# Waiting and standard input go through chat_io (chat_io_posix.c / chat_io_win.c); the
# terminal is libedit's on POSIX (chat_term.c), a console edited by chat_line.c on Windows
# (chat_term_win.c), where libedit does not exist.
set(_chat ${CMAKE_CURRENT_LIST_DIR})
add_executable(netlab-chat ${_chat}/netlab-chat.c ${_chat}/chat_text.c ${_chat}/chat_room_cli.c
               ${_chat}/chat_key.c)
if(WIN32)
  target_sources(netlab-chat PRIVATE ${_chat}/chat_io_win.c ${_chat}/chat_line.c ${_chat}/chat_term_win.c)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
  target_sources(netlab-chat PRIVATE ${_chat}/chat_io_posix.c ${_chat}/chat_term.c)
  if(NETLAB_FORCE_PORTABLE_POSIX) # the pselect() wait macOS takes, tested on Linux
    target_compile_definitions(netlab-chat PRIVATE CHAT_IO_NO_PPOLL)
  endif()
endif()
target_compile_definitions(netlab-chat PRIVATE _GNU_SOURCE)
target_compile_options(netlab-chat PRIVATE ${NETLAB_WARNINGS})
if(TARGET netlab::netlab)
  target_link_libraries(netlab-chat PRIVATE netlab::netlab)
  if(NOT WIN32)
    target_link_libraries(netlab-chat PRIVATE PkgConfig::LIBEDIT)
  endif()
endif()
install(TARGETS netlab-chat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Installed, it finds the library next to it like the course programs (found by the multi-host
# test, which runs the installed programs: without this it failed to load libnetlab.so.0).
set_target_properties(netlab-chat PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
