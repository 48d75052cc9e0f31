// An external module using the weft Go binding. The binding has no public
// host here, so the replace directive points at the tree's bindings/go; a
// real project would `go get` it instead. libweft itself is found through
// pkg-config (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig for a non-system
// install, and LD_LIBRARY_PATH=<prefix>/lib to run).
module example.invalid/weft-example

go 1.24

require example.invalid/weft v0.0.0

replace example.invalid/weft => ../../bindings/go
