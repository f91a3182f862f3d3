# pip install ./bindings/python into fresh venvs (Debian's Python, and pyenv's 3.10 and 3.11
# where they are installed), offline, against this build tree. Skips (exit 77), saying why,
# without Debian's wheel package. Included from bindings/python/CMakeLists.txt, once the module's
# interpreter is known. (The .deb packages need root and are tested by .ci/run: see debs.sh.)
if(NOT NETLAB_SANITIZE)
  file(GLOB _nl_pyenv $ENV{HOME}/.pyenv/versions/3.1[01].*/bin/python3)
  add_test(NAME pip_install
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/pip.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
            ${Python3_EXECUTABLE} ${_nl_pyenv})
  set_tests_properties(pip_install PROPERTIES LABELS "pip;python" TIMEOUT 300
                       SKIP_RETURN_CODE 77)
endif()
