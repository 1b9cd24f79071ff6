# cmake/rl_folder.cmake: rl_folder(), one runtime/ folder as one object library with
# the folders and the outside libraries it uses, and its selftests kept apart.
#
#   rl_folder(NAME <folder> [DEPENDS <folder>...] [LIBS <target>...]
#             [PUBLIC_LIBS <target>...] [HEADERS_OF <target>...] [DEFINES <def>...])
#
# Makes rl_<folder> from runtime/<folder>/*.c, less *_test.c (collected with
# CONFIGURE_DEPENDS: a new file lands in its folder's target by itself). *_test.c go
# into rl_<folder>_selftests, an object library for the rl_selftest program only (never
# librayl or the rayl program); the property RL_TEST_OBJECTS lists those libraries.
# DEPENDS: the folders whose headers this one includes (cmake/layers.cmake checks it
# and that the graph has no cycle). LIBS: outside libraries its .c files use;
# PUBLIC_LIBS: those its headers expose (wire/ only); HEADERS_OF: libraries whose
# headers it compiles against without linking them (loaded with dlopen). DEFINES:
# compile definitions of its own. The libraries are linked once, into librayl and the
# programs (RL_LINK); here they give each folder the include paths it needs.
function(rl_folder)
  cmake_parse_arguments(F "" "NAME" "DEPENDS;LIBS;PUBLIC_LIBS;HEADERS_OF;DEFINES" ${ARGN})
  if(NOT F_NAME OR F_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rl_folder: NAME <folder> [DEPENDS ...] [LIBS ...] expected, got ${ARGN}")
  endif()
  file(GLOB srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.c")
  file(GLOB tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*_test.c")
  if(tests)
    list(REMOVE_ITEM srcs ${tests})
  endif()
  set(targets rl_${F_NAME})
  add_library(rl_${F_NAME} OBJECT ${srcs})
  if(tests)
    add_library(rl_${F_NAME}_selftests OBJECT ${tests})
    list(APPEND targets rl_${F_NAME}_selftests)
    set_property(GLOBAL APPEND PROPERTY RL_TEST_OBJECTS rl_${F_NAME}_selftests)
    set_property(GLOBAL APPEND PROPERTY RL_TEST_SOURCES ${tests})
  endif()
  set_property(GLOBAL APPEND PROPERTY RL_FOLDER_SOURCES ${srcs})
  foreach(t ${targets})
    foreach(dep ${F_DEPENDS})
      target_link_libraries(${t} PRIVATE rl_${dep})
    endforeach()
    if(F_LIBS)
      target_link_libraries(${t} PRIVATE ${F_LIBS})
    endif()
    if(F_PUBLIC_LIBS)
      target_link_libraries(${t} PUBLIC ${F_PUBLIC_LIBS})
    endif()
    foreach(lib ${F_HEADERS_OF})
      target_include_directories(${t} PRIVATE $<TARGET_PROPERTY:${lib},INTERFACE_INCLUDE_DIRECTORIES>)
    endforeach()
    if(F_DEFINES)
      target_compile_definitions(${t} PRIVATE ${F_DEFINES})
    endif()
  endforeach()
  if(tests)
    target_link_libraries(rl_${F_NAME}_selftests PRIVATE rl_${F_NAME})
  endif()
endfunction()
