# popgate_sanitizers: the CI's sanitizer legs. POPGATE_SANITIZE=ON: ASan + UBSan; POPGATE_TSAN=ON:
# ThreadSanitizer (the two cannot share a build). Linked by every project target; empty otherwise.
# Poco, OpenSSL and the other system libraries are not instrumented; tests/tsan.supp lists what
# TSan reports inside them and why each entry is safe.
add_library(popgate_sanitizers INTERFACE)
if(POPGATE_SANITIZE AND POPGATE_TSAN)
  message(FATAL_ERROR "POPGATE_SANITIZE and POPGATE_TSAN exclude each other: use two build trees")
elseif(POPGATE_SANITIZE)
  target_compile_options(popgate_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(popgate_sanitizers INTERFACE -fsanitize=address,undefined)
elseif(POPGATE_TSAN)
  target_compile_options(popgate_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(popgate_sanitizers INTERFACE -fsanitize=thread)
endif()

# popgate_project_options: what every target of ours links privately.
add_library(popgate_project_options INTERFACE)
target_link_libraries(popgate_project_options INTERFACE popgate_warnings popgate_sanitizers)
