// safetensors.h: the safetensors file format (huggingface/safetensors), read and written.
//
//   offset   size  content
//   0        8     u64 N, little-endian: header length in bytes
//   8        N     JSON object, UTF-8, starting with '{', padded at the end with spaces (0x20):
//                  {"__metadata__": {"k": "v", ...},                       (optional, string -> string)
//                   "<name>": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ...}
//   8 + N    ...   data section; offsets are relative to its start
//
// A valid file (the rules of the reference Rust loader): the tensors' byte ranges, taken in offset order,
// tile the whole data section exactly (start at 0, no gap, no overlap, end at the file's end), and each
// range holds prod(shape) x dtype size bytes. Names are unique. The header is at most 100,000,000 bytes.
//
// The writer stores tensors in byte order of their names (safetensors' serializer sorts by dtype, then
// name; ours have one dtype) with compact JSON and the header padded to a multiple of 8, so a file we write
// has the bytes `safetensors.torch.save_file` writes for the same tensors and metadata. Files are written
// atomically (atomic.h). The reader maps the file and converts F32, BF16 and F16 to fp32.
#ifndef SCOUT_SAFETENSORS_H
#define SCOUT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000ull

enum st_dtype { ST_F32 = 0, ST_BF16 = 1, ST_F16 = 2 };

typedef struct st_tensor {
    char *name;
    int dtype;                    // enum st_dtype
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;          // byte range in the data section
} st_tensor;

typedef struct st_file {
    char *path;
    uint8_t *map;                 // the whole file, read-only
    size_t map_size;
    const uint8_t *data;          // data section
    uint64_t data_size;
    st_tensor *tensors;           // sorted by name (st_find is a binary search)
    int n;
    int n_meta;
    char **meta_keys, **meta_values; // __metadata__ entries
} st_file;

// Opens and validates a file. Returns 0, or SCOUT_EXIT_IO / SCOUT_EXIT_DATA with the reason in err
// ("<path>: <what>", naming the tensor when one is at fault).
int st_open_checked(st_file *f, const char *path, char *err, size_t err_size);
// The same, dying with that code and message.
void st_open(st_file *f, const char *path);
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name); // NULL when absent
const char *st_meta(const st_file *f, const char *key);       // NULL when absent
// Copies a tensor into dst[numel] as fp32.
void st_read_f32(const st_file *f, const st_tensor *t, float *dst);
const char *st_dtype_name(int dtype);

// One tensor to write: fp32 values in row-major order.
typedef struct st_entry {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} st_entry;

// Writes path atomically with every tensor stored as dtype (ST_F32, or ST_BF16 rounded to nearest even).
// meta: NULL, or a NULL-terminated list of key, value, key, value, ... strings for __metadata__.
// Dies with SCOUT_EXIT_IO on a write failure, SCOUT_EXIT_FAIL on duplicate names.
void st_write(const char *path, const st_entry *entries, int n, int dtype, const char *const *meta);

// Conversions (exposed for tests and the CUDA host code).
float st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f); // round to nearest even; NaN stays NaN
float st_f16_to_f32(uint16_t h);

#endif
