# The Windows release archive (cpack -G ZIP in the mingw-w64 build; .ci/windows builds it):
#   bin/      the programs and libnetlab.dll (runtime linked statically: no other DLL needed)
#   lib/      libnetlab.dll.a (import library), libnetlab.a (static library), libsodium.a,
#             pkgconfig/netlab.pc, cmake/netlab/ (find_package(netlab))
#   include/  the headers
#   share/doc/netlab/  the manual pages as text (man is not on Windows), README, LICENSE
# Included from CMakeLists.txt when building for Windows.
set(_nl_man_txt ${PROJECT_BINARY_DIR}/man-txt)
file(GLOB _nl_man_pages ${PROJECT_SOURCE_DIR}/docs/man/*.1)
# netlab-wire (packet capture is Linux-only) is not built for Windows: no page for it.
list(FILTER _nl_man_pages EXCLUDE REGEX "/netlab-wire\\.1$")
set(_nl_txt_files "")
foreach(page ${_nl_man_pages})
  get_filename_component(name ${page} NAME_WE)
  set(txt ${_nl_man_txt}/${name}.txt)
  # Rendered on the build machine (groff; -k: preconv, for the Chinese in netlab-chat.1), plain
  # text with CRLF line ends for Notepad.
  add_custom_command(OUTPUT ${txt}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_nl_man_txt}
    COMMAND sh -c "groff -k -man -Tutf8 -P-cbou \"$1\" | sed 's/$/\\r/' > \"$2\"" sh ${page} ${txt}
    DEPENDS ${page} VERBATIM)
  list(APPEND _nl_txt_files ${txt})
endforeach()
add_custom_target(man_txt ALL DEPENDS ${_nl_txt_files})
install(FILES ${_nl_txt_files} ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# libsodium (ISC licence) is inside libnetlab.dll; users of the static libnetlab.a link it too,
# so the archive carries the cross-built static libsodium and its pkg-config file.
install(FILES ${SODIUM_LIBRARY_DIRS}/libsodium.a DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Its .pc, relocatable like netlab.pc (the cross-built one names the build machine's prefix).
file(WRITE ${PROJECT_BINARY_DIR}/libsodium-win.pc "prefix=\${pcfiledir}/../..
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: libsodium
Description: A modern and easy-to-use crypto library (static, inside libnetlab)
Version: ${SODIUM_VERSION}
Libs: -L\${libdir} -lsodium
Cflags: -I\${includedir}
")
install(FILES ${PROJECT_BINARY_DIR}/libsodium-win.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  RENAME libsodium.pc)

set(CPACK_PACKAGE_NAME netlab)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_SYSTEM_NAME win64)
set(CPACK_GENERATOR ZIP)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "libnetlab: a C11 socket library and the course's programs")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
include(CPack)
