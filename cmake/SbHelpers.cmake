include(GoogleTest)

# Helpers that keep every part's CMakeLists.txt to a few lines.

# sb_add_proto(name FILE proto DEPS other_proto_targets...)
# Generates C++ and gRPC code for one proto package into a static library.
function(sb_add_proto name)
  cmake_parse_arguments(P "" "FILE" "DEPS" ${ARGN})
  set(root ${PROJECT_SOURCE_DIR}/proto)
  set(out ${PROJECT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  get_filename_component(abs ${P_FILE} ABSOLUTE)
  file(RELATIVE_PATH rel ${root} ${abs})
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  set(srcs ${out}/${stem}.pb.cc ${out}/${stem}.grpc.pb.cc)
  set(hdrs ${out}/${stem}.pb.h ${out}/${stem}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${srcs} ${hdrs}
    COMMAND protobuf::protoc --proto_path=${root} --cpp_out=${out} --grpc_out=${out}
            --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin> ${abs}
    DEPENDS ${abs} protobuf::protoc gRPC::grpc_cpp_plugin
    COMMENT "protoc ${rel}")
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} SYSTEM PUBLIC ${out})
  target_link_libraries(${name} PUBLIC gRPC::grpc++ protobuf::libprotobuf ${P_DEPS})
endfunction()

# sb_add_library(name SRCS ... DEPS ...): a library under libs/ with include/ as its public root.
function(sb_add_library name)
  cmake_parse_arguments(L "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${L_SRCS})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${L_DEPS})
  sb_warnings(${name})
endfunction()

# sb_add_executable(name SRCS ... DEPS ...): a binary installed into bin/.
function(sb_add_executable name)
  cmake_parse_arguments(E "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${E_SRCS})
  target_link_libraries(${name} PRIVATE ${E_DEPS})
  sb_warnings(${name})
  install(TARGETS ${name} RUNTIME DESTINATION bin)
endfunction()

# sb_use_jemalloc(target): links a service binary with jemalloc when the build found it.
function(sb_use_jemalloc target)
  if(TARGET PkgConfig::JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()

# sb_add_test(name SRCS ... DEPS ... [LABELS ...]): a GoogleTest binary registered with ctest.
function(sb_add_test name)
  if(NOT SB_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SRCS})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  sb_warnings(${name})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set(props LABELS "${T_LABELS}")
  # Tests that need Postgres or Redis share one private instance of each, started by the
  # `backing` fixture (integration-tests/CMakeLists.txt) and found through these variables.
  if(T_LABELS MATCHES "db|redis|integration")
    # (Two variables: the second goes through ENVIRONMENT_MODIFICATION because a ';' inside
    # one ENVIRONMENT value does not survive gtest_discover_tests.)
    list(APPEND props FIXTURES_REQUIRED backing
         ENVIRONMENT "SB_TEST_POSTGRES_URL=${SB_TEST_POSTGRES_URL}"
         ENVIRONMENT_MODIFICATION "SB_TEST_REDIS_URL=set:${SB_TEST_REDIS_URL}")
  endif()
  # One ctest entry per test case, so the summary counts tests, not binaries.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES ${props})
endfunction()

# sb_add_benchmark(name SRCS ... DEPS ...): a Google Benchmark binary (built, not run by ctest;
# run it by hand and quote its figures).
function(sb_add_benchmark name)
  cmake_parse_arguments(B "" "" "SRCS;DEPS" ${ARGN})
  if(NOT benchmark_FOUND)
    return()
  endif()
  add_executable(${name} ${B_SRCS})
  target_link_libraries(${name} PRIVATE ${B_DEPS} benchmark::benchmark benchmark::benchmark_main)
  sb_warnings(${name})
endfunction()
