# popgate_warnings: the warning set every project target links (PRIVATE). -Werror comes from
# POPGATE_WERROR so a newer compiler on a user's machine never breaks their build, while CI is strict.
add_library(popgate_warnings INTERFACE)
target_compile_options(popgate_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wconversion -Wsign-conversion -Wnull-dereference -Wdouble-promotion
  -Wformat=2 -Wimplicit-fallthrough)
if(POPGATE_WERROR)
  target_compile_options(popgate_warnings INTERFACE -Werror)
endif()
