// cub/cub.cuh for the CUDA emulator: the one CUB algorithm kernels/cuda/ uses, DeviceRadixSort::SortPairs, as
// a stable sort of host memory (CUB's radix sort is stable too, so the emulated order is the device's).
#ifndef SCOUT_EMU_CUB_CUH
#define SCOUT_EMU_CUB_CUH

#include <algorithm>
#include <numeric>
#include <vector>

namespace cub {
struct DeviceRadixSort {
    template <typename KeyT, typename ValueT, typename NumItemsT>
    static cudaError_t SortPairs(void *d_temp_storage, size_t &temp_storage_bytes, const KeyT *keys_in,
                                 KeyT *keys_out, const ValueT *values_in, ValueT *values_out, NumItemsT num_items,
                                 int begin_bit = 0, int end_bit = sizeof(KeyT) * 8, cudaStream_t stream = 0) {
        (void)begin_bit, (void)end_bit, (void)stream;
        if (!d_temp_storage) {
            temp_storage_bytes = 256; // any non-zero size: the caller must still provide it
            return cudaSuccess;
        }
        std::vector<size_t> order((size_t)num_items);
        std::iota(order.begin(), order.end(), (size_t)0);
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys_in[a] < keys_in[b]; });
        std::vector<KeyT> k((size_t)num_items);
        std::vector<ValueT> v((size_t)num_items);
        for (size_t i = 0; i < (size_t)num_items; i++) k[i] = keys_in[order[i]], v[i] = values_in[order[i]];
        std::copy(k.begin(), k.end(), keys_out);
        std::copy(v.begin(), v.end(), values_out);
        return cudaSuccess;
    }
};
} // namespace cub

#endif
