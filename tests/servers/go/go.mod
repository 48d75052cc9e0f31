module weft.test/respserver

go 1.22
