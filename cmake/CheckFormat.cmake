# ctest's style.clang_format: every C++ file of the tree follows .clang-format (clang-format 14, Debian
# 12's). tests/compile_fail keeps its hand-written lines (each file's first line is the compiler message
# the test expects); regions fenced with `// clang-format off` keep theirs (clang-format skips them).
# cmake -DCLANG_FORMAT=... -DSOURCE=<repository root> -P CheckFormat.cmake
foreach(v CLANG_FORMAT SOURCE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "CheckFormat.cmake: -D${v}=... is required")
  endif()
endforeach()
file(GLOB_RECURSE files LIST_DIRECTORIES false
  ${SOURCE}/include/*.hpp ${SOURCE}/include/*.h ${SOURCE}/samples/*.cpp ${SOURCE}/samples/*.hpp
  ${SOURCE}/tests/*.cpp ${SOURCE}/tests/*.hpp ${SOURCE}/bench/*.cpp ${SOURCE}/bench/*.hpp)
list(FILTER files EXCLUDE REGEX "/tests/compile_fail/")
list(LENGTH files n)
if(n LESS 100)
  message(FATAL_ERROR "CheckFormat.cmake: found ${n} C++ files under ${SOURCE}; expected the whole tree")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${files}
                WORKING_DIRECTORY ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  # one line per place: file:line:column (clang-format prints the line and a caret after each)
  string(REGEX MATCHALL "[^\n]*: (error|warning): code should be clang-formatted[^\n]*" places "${err}")
  list(LENGTH places count)
  string(REPLACE ";" "\n" places "${places}")
  message(FATAL_ERROR "${count} place(s) differ from .clang-format (fix: clang-format -i FILE):\n${places}\n${out}")
endif()
message(STATUS "${n} files follow .clang-format")
