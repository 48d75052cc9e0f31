# doxygen.sed -- Doxygen's INPUT_FILTER for weft.h and weft.hpp: their plain
# C comments are the documentation, so the reference is generated from the
# headers as they are, without Doxygen markup in them.
# The comment that opens the file documents the file.
1s|^/\*$|/** \\file|
# Section rulers (/* ------ name */, // ------ name) stay plain comments.
/^ *\/[*\/] *-\{4,\}/b
# A comment that starts a line documents the declaration after it.
s%^\( *\)/\*\( \|$\)%\1/**\2%
# A comment after code on the same line documents that code.
s|\([^ ]\) \( *\)/\* |\1 \2/**< |
# Doxygen 1.9 cannot place a specialisation of a std template declared with a
# qualified name at global scope; it is no API of weft's (blank lines keep
# the line numbers).
/^template <>$/{
N
/is_error_code_enum/s/.*/\n/
}
