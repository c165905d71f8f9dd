# cmake -P script: renders REPORT (an HTML file) in headless Chromium and checks that the charts are
# there after rendering: the DOM Chromium built holds every chart's SVG with drawn polylines, and
# the screenshot is not a blank page.
find_program(CHROMIUM NAMES chromium chromium-browser REQUIRED)
set(flags --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --user-data-dir=${WORK}/profile)
execute_process(COMMAND ${CHROMIUM} ${flags} --dump-dom file://${REPORT}
                OUTPUT_VARIABLE dom ERROR_QUIET RESULT_VARIABLE rc TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "chromium --dump-dom failed (${rc})")
endif()
string(REGEX MATCHALL "<svg class=\"chart\"" charts "${dom}")
string(REGEX MATCHALL "<polyline[^>]* points=\"[0-9]" lines "${dom}")
list(LENGTH charts n_charts)
list(LENGTH lines n_lines)
if(n_charts LESS 5 OR n_lines LESS 5)
  message(FATAL_ERROR "rendered report has ${n_charts} charts and ${n_lines} drawn lines; expected >= 5 of each")
endif()
execute_process(COMMAND ${CHROMIUM} ${flags} --window-size=1300,900 --screenshot=${WORK}/report.png file://${REPORT}
                ERROR_QUIET RESULT_VARIABLE rc TIMEOUT 120 WORKING_DIRECTORY ${WORK})
file(SIZE ${WORK}/report.png size)
if(NOT rc EQUAL 0 OR size LESS 20000)
  message(FATAL_ERROR "screenshot failed or blank (${size} bytes)")
endif()
message(STATUS "report renders: ${n_charts} charts, ${n_lines} lines, screenshot ${size} bytes")
