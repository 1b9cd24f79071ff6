# cmake/fuzz.cmake: the libFuzzer harnesses for the decoders that read outside input
# (tools/fuzz/fuzz_*.c). Ordinary builds replay each harness's committed corpus (seeds and
# the inputs of past crashes) as a ctest test, fuzz_replay_<harness>; with RL_FUZZ on (a
# clang build with the tree compiled with -fsanitize=fuzzer-no-link and RL_SANITIZE's
# ASan/UBSan, as tools/fuzz/run sets it up) they are libFuzzer programs, fuzz_<harness>.
set(RL_FUZZERS codec wire resources json cuda_sig)

# The wire harness also drives the typed messages' unpacker where wire/ has one.
file(GLOB rl_wire_headers "${CMAKE_SOURCE_DIR}/runtime/wire/*.h")
set(rl_fuzz_wire_typed "")
foreach(h ${rl_wire_headers})
  file(STRINGS "${h}" hit REGEX "rl_wire_unpack_any")
  if(hit)
    get_filename_component(hname "${h}" NAME)
    set(rl_fuzz_wire_typed "wire/${hname}")
  endif()
endforeach()

# Adds the program `target` running harness `name`, with the extra sources given (a main).
function(rl_fuzz_program target name)
  add_executable(${target} "${CMAKE_SOURCE_DIR}/tools/fuzz/fuzz_${name}.c" ${ARGN})
  target_link_libraries(${target} PRIVATE rayl_head rayl_static)
  target_compile_definitions(${target} PRIVATE RL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  # The codec harness makes its values with host/'s selftest helpers (codec_test.c).
  if(name STREQUAL "codec" AND TARGET rl_host_selftests)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:rl_host_selftests>)
  endif()
  if(name STREQUAL "wire" AND rl_fuzz_wire_typed)
    target_compile_definitions(${target} PRIVATE RL_FUZZ_WIRE_TYPED="${rl_fuzz_wire_typed}")
  endif()
endfunction()

option(RL_FUZZ "Build the libFuzzer harnesses (tools/fuzz; clang only)" OFF)
if(NOT RL_FUZZ)
  foreach(name ${RL_FUZZERS})
    rl_fuzz_program(fuzz_replay_${name} ${name} "${CMAKE_SOURCE_DIR}/tools/fuzz/replay_main.c")
    add_test(NAME fuzz_replay_${name} COMMAND fuzz_replay_${name} "${CMAKE_SOURCE_DIR}/tools/fuzz/corpus/${name}")
    # The corpus holds inputs that once hung a decoder: a hang fails the test.
    set_tests_properties(fuzz_replay_${name} PROPERTIES TIMEOUT 120)
  endforeach()
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "RL_FUZZ needs clang (libFuzzer): configure with CC=clang-14 (tools/fuzz/run does)")
endif()

foreach(name ${RL_FUZZERS})
  rl_fuzz_program(fuzz_${name} ${name})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
endforeach()
