# popgate_sanitizers: ASan + UBSan for the CI sanitizer leg (POPGATE_SANITIZE=ON). Linked by every
# project target; empty otherwise.
add_library(popgate_sanitizers INTERFACE)
if(POPGATE_SANITIZE)
  target_compile_options(popgate_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(popgate_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# popgate_project_options: what every target of ours links privately.
add_library(popgate_project_options INTERFACE)
target_link_libraries(popgate_project_options INTERFACE popgate_warnings popgate_sanitizers)
