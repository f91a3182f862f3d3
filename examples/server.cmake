# netlab-echo-server: the concurrent echo server (issue 5). Included from CMakeLists.txt.
add_executable(netlab-echo-server ${CMAKE_CURRENT_LIST_DIR}/netlab-echo-server.c)
target_link_libraries(netlab-echo-server PRIVATE netlab::netlab)
target_compile_options(netlab-echo-server PRIVATE ${NETLAB_WARNINGS})
install(TARGETS netlab-echo-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Installed, it finds the library next to it like the course programs do.
set_target_properties(netlab-echo-server PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
