// backend.c: the backend registry, scout_backend_get("cpu" | "cuda").
#include <string.h>

#include "ops.h"

const scout_backend *scout_backend_get(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "cpu") == 0) return scout_backend_cpu();
#ifdef SCOUT_CUDA
    if (strcmp(name, "cuda") == 0) return scout_backend_cuda();
#endif
    return NULL; // unknown, or "cuda" in a build without CUDA
}
