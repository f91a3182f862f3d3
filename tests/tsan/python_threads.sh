#!/usr/bin/env bash
# ThreadSanitizer over the threaded Python path: the extension module (and the library linked
# into it) built with -fsanitize=thread in its own tree, then tests/python/test_threads.py
# (blocking calls releasing the GIL, close() from one thread waking another, 8 threads x 500
# datagrams) and the chat session, echo server and batch suites (a thread waiting in a session
# while others send or close it; serve_forever() stopped from other threads; batch calls
# releasing the GIL) run with the TSan runtime preloaded into Debian's interpreter. The
# interpreter is not instrumented: TSan checks the extension's and the library's memory
# accesses, and sees Python's locks through the pthread calls it intercepts. Any report fails
# the run.
#
# usage: tests/tsan/python_threads.sh [BUILD_DIR]     (default build-tsan)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-tsan}
flags="-fsanitize=thread -fno-omit-frame-pointer"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DCMAKE_MODULE_LINKER_FLAGS=-fsanitize=thread \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$dir" -j2 --target netlab_python >/dev/null
PYTHONPATH="$(realpath "$dir")/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
  LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python/test_threads.py \
  tests/python/test_chat.py tests/python/test_server.py tests/python/test_batch.py \
  -k "not against_the_netlab_chat_program"
echo "tsan: python threads clean"
