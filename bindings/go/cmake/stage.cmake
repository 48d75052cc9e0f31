# stage.cmake -- a private installed layout of libweft for the Go build:
# STAGE/include/weft.h, STAGE/<libdir>/libweft.so* and libweft.a, and the
# relocatable weft.pc in STAGE/<libdir>/pkgconfig. This is the layout
# `cmake --install` makes, limited to what cgo needs, so that building it
# does not depend on every other install rule of the project.
#
#   cmake -DSTAGE= -DLIBDIR= -DHEADER= -DPC= -DSHARED= -DSTATIC= -P stage.cmake
foreach(v STAGE LIBDIR HEADER PC SHARED STATIC)
  if(NOT ${v})
    message(FATAL_ERROR "stage.cmake: -D${v}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${STAGE}/include ${STAGE}/${LIBDIR}/pkgconfig)
file(COPY ${HEADER} DESTINATION ${STAGE}/include)
file(COPY ${PC} DESTINATION ${STAGE}/${LIBDIR}/pkgconfig)
file(COPY ${STATIC} DESTINATION ${STAGE}/${LIBDIR})
# libweft.so -> libweft.so.0 -> libweft.so.0.3.0, as installed.
get_filename_component(dir ${SHARED} DIRECTORY)
file(GLOB libs ${dir}/libweft.so*)
file(COPY ${libs} DESTINATION ${STAGE}/${LIBDIR} FOLLOW_SYMLINK_CHAIN)
file(TOUCH ${STAGE}/stamp)
