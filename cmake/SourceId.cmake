# Script mode (cmake -DSOURCE_DIR=... -DOUTPUT=... -P SourceId.cmake), run at every build:
# writes the commit the sources are at (with "-dirty" for uncommitted changes; "unknown"
# outside a git checkout) into OUTPUT as LLA_SOURCE_ID, rewriting the file only when that
# changed, so a build after a commit recompiles one file and relinks liblla and lla, no more.
set(source_id unknown)
find_program(GIT git)
if(GIT)
  execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE failed ERROR_QUIET)
  if(NOT failed)
    set(source_id ${commit})
    # --no-optional-locks: a build must not take the index lock from a `git commit` under way.
    execute_process(COMMAND ${GIT} --no-optional-locks -C ${SOURCE_DIR}
                            status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE changes ERROR_QUIET)
    if(NOT changes STREQUAL "")
      string(APPEND source_id -dirty)
    endif()
  endif()
endif()
set(content "#define LLA_SOURCE_ID \"${source_id}\"\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT old STREQUAL content)
  file(WRITE ${OUTPUT} "${content}")
endif()
