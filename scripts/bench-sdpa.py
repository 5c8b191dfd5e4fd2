#!/usr/bin/env python3
# scripts/bench-sdpa.py (GPU machine, PyTorch): the side-by-side reference for our attention kernels.
# Side-by-side: PyTorch SDPA causal attention (flash / cuDNN / efficient backends) at the shapes of
# bench_gpu --attn-tiles' causal case and qwen2_340m 8x2048, bf16, fwd and bwd times (CUDA events, median of 10).
import torch, statistics
from torch.nn.attention import sdpa_kernel, SDPBackend
print("torch", torch.__version__, torch.cuda.get_device_name(0))
def bench(fn, reps=10):
    fn(); fn(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return statistics.median(ts)
for B, T in [(8, 2048), (1, 32768)]:
    H, D = 16, 64
    q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)
    flops = 4 * D * (T * (T + 1) / 2) * B * H
    for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)]:
        try:
            with sdpa_kernel(be):
                f = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                tf = bench(f)
                o = f()
                def fb():
                    o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                    torch.autograd.grad(o, (q, k, v), do)
                tfb = bench(fb)
            tb = tfb - tf
            print(f"causal B={B} T={T}: {name:9s} fwd {tf:8.3f} ms {flops/tf/1e9:6.1f} TF/s | bwd {tb:8.3f} ms {2.5*flops/tb/1e9:6.1f} TF/s")
        except Exception as e:
            print(f"causal B={B} T={T}: {name}: {type(e).__name__}: {str(e)[:100]}")
