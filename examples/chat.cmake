# netlab-chat, the point-to-point chat program (issue 3). Included from examples/CMakeLists.txt.
# libedit (BSD licence) gives it line editing and history; it is linked into this program
# only, never into libnetlab.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
add_executable(netlab-chat ${CMAKE_CURRENT_LIST_DIR}/netlab-chat.c ${CMAKE_CURRENT_LIST_DIR}/chat_text.c
               ${CMAKE_CURRENT_LIST_DIR}/chat_room_cli.c ${CMAKE_CURRENT_LIST_DIR}/chat_term.c)
target_compile_definitions(netlab-chat PRIVATE _GNU_SOURCE)
target_compile_options(netlab-chat PRIVATE ${NETLAB_WARNINGS})
if(TARGET netlab::netlab)
  target_link_libraries(netlab-chat PRIVATE netlab::netlab PkgConfig::LIBEDIT)
endif()
install(TARGETS netlab-chat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Installed, it finds the library next to it like the course programs (found by the multi-host
# test, which runs the installed programs: without this it failed to load libnetlab.so.0).
set_target_properties(netlab-chat PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
