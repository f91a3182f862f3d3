# Cross-compiling for Windows x86-64 with Debian's mingw-w64 (packages gcc-mingw-w64-x86-64-posix,
# mingw-w64-x86-64-dev); see tests/windows/README.md. Use:
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         -DCMAKE_PREFIX_PATH=$PWD/build-win/deps
# Tests and programs run under wine through ctest (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(NL_MINGW x86_64-w64-mingw32)
# The posix thread model: its C runtime has the C11 / POSIX bits the programs use (and it is
# the one the static libwinpthread comes with).
find_program(CMAKE_C_COMPILER NAMES ${NL_MINGW}-gcc-posix ${NL_MINGW}-gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${NL_MINGW}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${NL_MINGW})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# BOTH: the cross-built libraries under CMAKE_PREFIX_PATH (tests/windows/build-deps.sh) too.
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# No runtime DLLs beside the programs and libnetlab.dll: libgcc and libwinpthread are linked in
# (-static only affects those: Windows' own libraries and libnetlab.dll.a are import libraries).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
# pkg-config finds the cross-built packages (CMAKE_PREFIX_PATH) and never the Linux ones.
set(ENV{PKG_CONFIG_LIBDIR} /usr/${NL_MINGW}/lib/pkgconfig)
find_program(NL_WINE NAMES wine wine64)
if(NL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${NL_WINE})
endif()
