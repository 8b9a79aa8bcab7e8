# lakehouse_add_pytest(NAME <test> FILE <test_file.py> [ARGS <pytest args>...] [PYTHON <python>]
#                      [LABELS <labels>...] [TIMEOUT <s>] [S3] [ENVIRONMENT <VAR=value>...])
# A pytest suite as one ctest test: run with the project's venv (.venv, or PYTHON), with
# LAKEHOUSE_BIN naming the built `lakehouse` binary; S3 adds the radosgw fixture (`rgw`, started by
# storaged/tests) and its env file (LAKEHOUSE_S3_ENV_FILE). The helpers every suite imports are in
# tests/pyhelpers/lakehouse_testing.py (the root pytest.ini puts them on the path).
function(lakehouse_add_pytest)
  cmake_parse_arguments(T "S3" "NAME;FILE;PYTHON;TIMEOUT" "ARGS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_PYTHON)
    set(T_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_PYTHON} -m pytest -q -p no:cacheprovider ${T_FILE} ${T_ARGS})
  set(env "LAKEHOUSE_BIN=$<TARGET_FILE:lakehouse>" ${T_ENVIRONMENT})
  if(T_S3)
    list(APPEND env "LAKEHOUSE_S3_ENV_FILE=${CMAKE_BINARY_DIR}/rgw/env")
    set_tests_properties(${T_NAME} PROPERTIES FIXTURES_REQUIRED rgw)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
endfunction()
