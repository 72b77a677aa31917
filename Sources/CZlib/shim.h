#ifndef BUTLER_CZLIB_SHIM_H
#define BUTLER_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are C macros, which Swift cannot call. These wrappers open a
// stream in the gzip format (RFC 1952): window bits 15, plus 16 for the gzip header and trailer.

static inline int butler_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int butler_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}

#endif
