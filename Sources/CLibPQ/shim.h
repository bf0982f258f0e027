#ifndef MTSYNC_CLIBPQ_SHIM_H
#define MTSYNC_CLIBPQ_SHIM_H
// Debian puts libpq-fe.h under /usr/include/postgresql; pkg-config adds that folder when present,
// and the fallback keeps the build working where pkg-config is missing.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
#endif
