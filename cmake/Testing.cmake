# lakehouse_add_pytest(NAME <test> FILE <test_file.py> [ARGS <pytest args>...] [PYTHON <python>]
#                      [LABELS <labels>...] [TIMEOUT <s>] [S3] [MULTI] [ENVIRONMENT <VAR=value>...])
# A pytest suite as one ctest test: run with the project's venv (.venv, or PYTHON), with
# LAKEHOUSE_BIN naming the built `lakehouse` binary; S3 adds the radosgw fixture (`rgw`, started by
# storaged/tests) and its env file (LAKEHOUSE_S3_ENV_FILE). The helpers every suite imports are in
# tests/pyhelpers/lakehouse_testing.py (the root pytest.ini puts them on the path).
# MULTI registers the suite a second time as <test>_multi (label `multi`) against a multi-process
# deployment (`lakehouse up`, one process per service on loopback: LAKEHOUSE_TEST_DEPLOYMENT=multi,
# docs/deploy.md), with twice the timeout.
function(lakehouse_add_pytest)
  cmake_parse_arguments(T "S3;MULTI" "NAME;FILE;PYTHON;TIMEOUT" "ARGS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_PYTHON)
    set(T_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set(env "LAKEHOUSE_BIN=$<TARGET_FILE:lakehouse>" ${T_ENVIRONMENT})
  if(T_S3)
    list(APPEND env "LAKEHOUSE_S3_ENV_FILE=${CMAKE_BINARY_DIR}/rgw/env")
  endif()
  set(names ${T_NAME})
  if(T_MULTI)
    list(APPEND names ${T_NAME}_multi)
  endif()
  foreach(name IN LISTS names)
    add_test(NAME ${name} COMMAND ${T_PYTHON} -m pytest -q -p no:cacheprovider ${T_FILE} ${T_ARGS})
    if(name STREQUAL T_NAME)
      set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
    else()
      math(EXPR multi_timeout "${T_TIMEOUT} * 2")
      set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS};multi" TIMEOUT ${multi_timeout}
        ENVIRONMENT "${env};LAKEHOUSE_TEST_DEPLOYMENT=multi")
    endif()
    if(T_S3)
      set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED rgw)
    endif()
  endforeach()
endfunction()
