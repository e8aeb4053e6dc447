# Use ccache for every compile when it is installed.
find_program(SB_CCACHE ccache)
if(SB_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${SB_CCACHE})
endif()
