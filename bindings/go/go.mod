module example.invalid/weft

go 1.24
