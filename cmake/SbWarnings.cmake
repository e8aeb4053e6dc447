# sb_warnings(target): strict warnings on project code; errors unless SB_WERROR=OFF.
function(sb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor -Wno-missing-field-initializers)
  if(SB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(SB_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
