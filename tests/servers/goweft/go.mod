// The comparison's RESP server on the weft Go binding (bindings/go), built
// like examples/go: the replace points at the tree's binding, and libweft
// is found through pkg-config (the build stages it; see ../CMakeLists.txt).
module weft.test/respserver-weft

go 1.24

require example.invalid/weft v0.0.0

replace example.invalid/weft => ../../../bindings/go
