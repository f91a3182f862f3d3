# The point-to-point chat (issue 3): frame codec and session. Included from lib/CMakeLists.txt.
#
# libsodium (ISC licence) provides the AEAD for pre-shared keys. It is a PRIVATE dependency of
# libnetlab: nothing of it shows in the public headers. The shared library carries it in its
# DT_NEEDED; consumers of the static library must link -lsodium themselves, which the exported
# netlab::netlab_static target (as $<LINK_ONLY:sodium>) and netlab.pc (Requires.private) do for
# them. It is linked by name, not by an absolute path, so the installed package stays
# relocatable and needs no find_dependency().
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
target_sources(netlab_objects PRIVATE frame.c chat.c chat_core.c chat_room.c)
target_compile_definitions(netlab_objects PRIVATE NETLAB_HAVE_SODIUM)
target_include_directories(netlab_objects PRIVATE ${SODIUM_INCLUDE_DIRS})
target_link_directories(netlab PRIVATE ${SODIUM_LIBRARY_DIRS})
target_link_libraries(netlab PRIVATE sodium)
target_link_libraries(netlab_static PRIVATE sodium)
# Windows: libsodium is a static library cross-built into a prefix of its own
# (tests/windows/build-deps.sh); users of netlab_static inside this build find it there.
if(WIN32)
  target_link_directories(netlab_static INTERFACE $<BUILD_INTERFACE:${SODIUM_LIBRARY_DIRS}>)
endif()
