#ifndef MTSYNC_CGLIBCMALLOC_SHIM_H
#define MTSYNC_CGLIBCMALLOC_SHIM_H
// glibc's mallopt (arenas, mmap threshold): Swift's Glibc module leaves malloc.h out. Used only where Glibc is.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
#endif
