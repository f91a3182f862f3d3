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
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# No runtime DLLs beside the programs: libgcc and libwinpthread are linked in.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc -Wl,-Bstatic -lwinpthread -Wl,-Bdynamic")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -Wl,-Bstatic -lwinpthread -Wl,-Bdynamic")
find_program(NL_WINE NAMES wine wine64)
if(NL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${NL_WINE})
endif()
