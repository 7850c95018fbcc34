# Run after each link of unit_tests (cmake -P): one ctest test per GoogleTest
# suite, written to SUITES_FILE. A suite's fixtures (a Redis, a PostgreSQL
# cluster) start once per suite this way, not once per test, while suites stay
# apart from each other in processes of their own.
execute_process(COMMAND "${TEST_BINARY}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TEST_BINARY} --gtest_list_tests failed: ${result}")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(content "")
foreach(line IN LISTS lines)
  # A suite line starts in column 0 and ends its name with '.'; typed suites add
  # "  # TypeParam = ...".
  if(line MATCHES "^([^ #][^ ]*)\\.( |$)")
    set(suite "${CMAKE_MATCH_1}")
    string(APPEND content
      "add_test([=[${suite}]=] [=[${TEST_BINARY}]=] [=[--gtest_filter=${suite}.*]=] --gtest_brief=1)\n"
      "set_tests_properties([=[${suite}]=] PROPERTIES TIMEOUT 600)\n")
  endif()
endforeach()
file(WRITE "${SUITES_FILE}" "${content}")
