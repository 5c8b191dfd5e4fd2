// test_ops_backend.c: the backend table: lookup by name, every slot filled, memory functions, and every op
// adapter giving bit-identical results to the CPU function it wraps (which catches an adapter that passes
// its arguments in the wrong order).
#include "ops_harness.h"

#include "ops.h"

static void test_lookup(void) {
    const scout_backend *cpu = scout_backend_cpu();
    CHECK(cpu != NULL);
    CHECK(scout_backend_get("cpu") == cpu);
    CHECK_EQ_STR(cpu->name, "cpu");
    CHECK_EQ_INT(cpu->act_size, sizeof(float));
#ifdef SCOUT_CUDA
    CHECK(scout_backend_get("cuda") != NULL);
#else
    CHECK(scout_backend_get("cuda") == NULL); // built without CUDA
#endif
    CHECK(scout_backend_get("tpu") == NULL);
    CHECK(scout_backend_get("") == NULL);
    CHECK(scout_backend_get(NULL) == NULL);
}

static void test_every_slot_filled(const scout_backend *be) {
#define SLOT(f)                                                                     \
    do {                                                                            \
        if (!be->f) fprintf(stderr, "backend %s: slot %s is NULL\n", be->name, #f); \
        CHECK(be->f != NULL);                                                       \
    } while (0)
    SLOT(alloc);
    SLOT(free);
    SLOT(zero);
    SLOT(upload);
    SLOT(download);
    SLOT(f32_to_act);
    SLOT(act_to_f32);
    SLOT(embedding_forward);
    SLOT(embedding_backward);
    SLOT(embedding_backward_workspace_size);
    SLOT(rmsnorm_forward);
    SLOT(rmsnorm_backward);
    SLOT(rmsnorm_backward_workspace_size);
    SLOT(linear_forward);
    SLOT(linear_residual_forward);
    SLOT(linear_backward);
    SLOT(linear_backward_workspace_size);
    SLOT(rope_forward);
    SLOT(rope_backward);
    SLOT(swa_attention_forward);
    SLOT(swa_attention_backward);
    SLOT(swa_attention_backward_workspace_size);
    SLOT(checkpoint_attention_forward);
    SLOT(checkpoint_attention_backward);
    SLOT(checkpoint_attention_backward_workspace_size);
    SLOT(causal_conv1d_forward);
    SLOT(causal_conv1d_backward);
    SLOT(causal_conv1d_backward_workspace_size);
    SLOT(silu_forward);
    SLOT(silu_backward);
    SLOT(selective_scan_forward);
    SLOT(selective_scan_backward);
    SLOT(selective_scan_backward_workspace_size);
    SLOT(swiglu_forward);
    SLOT(swiglu_backward);
    SLOT(cross_entropy_forward);
    SLOT(cross_entropy_backward);
    SLOT(adamw_step);
    SLOT(adamw_step_tensors);
    SLOT(global_norm);
    SLOT(global_norm_workspace_size);
    SLOT(add);
    SLOT(copy_rows);
#undef SLOT
}

static void test_memory(const scout_backend *be) {
    float host[100], back[100];
    fill_uniform(host, 100, -1, 1);
    float *dev = be->alloc(sizeof host);
    CHECK(dev != NULL && ((uintptr_t)dev % 64) == 0);
    be->upload(dev, host, sizeof host);
    be->download(back, dev, sizeof back);
    CHECK(memcmp(host, back, sizeof host) == 0);
    float *act = be->alloc(100 * be->act_size), *f32 = be->alloc(sizeof host);
    be->f32_to_act(act, dev, 100);
    be->act_to_f32(f32, act, 100);
    be->download(back, f32, sizeof back);
    CHECK(memcmp(host, back, sizeof host) == 0); // lossless round trip on fp32
    be->zero(dev, sizeof host);
    be->download(back, dev, sizeof back);
    CHECK(back[0] == 0.0f && back[99] == 0.0f);
    be->free(dev), be->free(act), be->free(f32);
}

// Two same-size buffers filled alike: one for the table call, one for the direct call.
typedef struct {
    float *a, *b;
    size_t n;
} pair;

static pair pair_random(size_t n, double lo, double hi) {
    pair p = {galloc(n), galloc(n), n};
    fill_uniform(p.a, n, lo, hi);
    memcpy(p.b, p.a, n * sizeof(float));
    return p;
}

static int pair_same(pair p) { return memcmp(p.a, p.b, p.n * sizeof(float)) == 0; }

static void pair_free(pair p) { gfree(p.a), gfree(p.b); }

static void test_adapters(const scout_backend *be) {
    enum { B = 2, T = 7, BT = B * T, n_h = 4, n_kv = 2, d = 8 }; // attention
    enum { C = 12, V = 9, In = 6 };                              // dense
    enum { E = 5, N = 3, r = 2, K = 4 };                         // Mamba
    const size_t nq = (size_t)BT * n_h * d, nk = (size_t)BT * n_kv * d;
    int32_t tok[BT], tgt[BT]; // tokens < V for the embedding, targets < In for the loss over the In logits
    for (int i = 0; i < BT; i++) tok[i] = rng_int(V), tgt[i] = rng_int(In);
    float *x = grandom(BT * C, -1, 1), *w = grandom(C, 0.5, 1.5), *W = grandom(In * C, -1, 1);
    float *bias = grandom(In, -1, 1), *emb = grandom(V * C, -1, 1), *dout = grandom(BT * In, -1, 1);
    float *q = grandom(nq, -1, 1), *k = grandom(nk, -1, 1), *v = grandom(nk, -1, 1),
          *dattn = grandom(nq, -1, 1);
    float *rstd = galloc(BT), *lse = galloc(B * n_h * T);

    // Forward outputs and written gradients.
    pair out = pair_random(BT * C, 0, 0), lin = pair_random(BT * In, 0, 0), dx = pair_random(BT * C, 0, 0);
    pair demb = pair_random(V * C, -1, 1), dw = pair_random(C, -1, 1), dW = pair_random(In * C, -1, 1);
    pair db = pair_random(In, -1, 1);

    be->embedding_forward(out.a, tok, emb, BT, C);
    embedding_forward_cpu(out.b, tok, emb, BT, C);
    CHECK(pair_same(out));
    be->embedding_backward(demb.a, x, tok, NULL, BT, C);
    embedding_backward_cpu(demb.b, x, tok, NULL, BT, C);
    CHECK(pair_same(demb));

    be->rmsnorm_forward(out.a, rstd, x, w, BT, C, 1e-6f);
    rmsnorm_forward_cpu(out.b, rstd, x, w, BT, C, 1e-6f);
    CHECK(pair_same(out));
    be->rmsnorm_backward(dx.a, dw.a, out.a, x, w, rstd, NULL, BT, C, SCOUT_DX_WRITE);
    rmsnorm_backward_cpu(dx.b, dw.b, out.b, x, w, rstd, NULL, BT, C, SCOUT_DX_WRITE);
    CHECK(pair_same(dx) && pair_same(dw));
    be->rmsnorm_backward(dx.a, dw.a, out.a, x, w, rstd, NULL, BT, C, SCOUT_DX_ADD);
    rmsnorm_backward_cpu(dx.b, dw.b, out.b, x, w, rstd, NULL, BT, C, SCOUT_DX_ADD);
    CHECK(pair_same(dx) && pair_same(dw));

    be->linear_forward(lin.a, x, W, bias, BT, C, In);
    linear_forward_cpu(lin.b, x, W, bias, BT, C, In);
    CHECK(pair_same(lin));
    be->linear_residual_forward(lin.a, x, W, dout, BT, C, In);
    linear_residual_forward_cpu(lin.b, x, W, dout, BT, C, In);
    CHECK(pair_same(lin));
    be->linear_backward(dx.a, dW.a, db.a, dout, x, W, NULL, BT, C, In, SCOUT_DX_WRITE);
    linear_backward_cpu(dx.b, dW.b, db.b, dout, x, W, NULL, BT, C, In, SCOUT_DX_WRITE);
    CHECK(pair_same(dx) && pair_same(dW) && pair_same(db));
    be->linear_backward(dx.a, dW.a, db.a, dout, x, W, NULL, BT, C, In, SCOUT_DX_ADD);
    linear_backward_cpu(dx.b, dW.b, db.b, dout, x, W, NULL, BT, C, In, SCOUT_DX_ADD);
    CHECK(pair_same(dx) && pair_same(dW) && pair_same(db));

    pair rq = pair_random(nq, -1, 1);
    be->rope_forward(rq.a, n_h * d, B, T, n_h, d, 3, 1e6f);
    rope_forward_cpu(rq.b, n_h * d, B, T, n_h, d, 3, 1e6f);
    CHECK(pair_same(rq));
    be->rope_backward(rq.a, n_h * d, B, T, n_h, d, 3, 1e6f);
    rope_backward_cpu(rq.b, n_h * d, B, T, n_h, d, 3, 1e6f);
    CHECK(pair_same(rq));

    // Both attentions, forward and backward.
    pair ao = pair_random(nq, 0, 0), dq = pair_random(nq, 0, 0), dk = pair_random(nk, 0, 0),
         dv = pair_random(nk, 0, 0);
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 0) {
            be->swa_attention_forward(ao.a, lse, q, k, v, n_h * d, n_kv * d, B, T, n_h, n_kv, d, 3);
            swa_attention_forward_cpu(ao.b, lse, q, k, v, n_h * d, n_kv * d, B, T, n_h, n_kv, d, 3);
            be->swa_attention_backward(dq.a, dk.a, dv.a, dattn, q, k, v, ao.b, lse, NULL, n_h * d, n_kv * d, B, T,
                                       n_h, n_kv, d, 3, 1e4f);
            swa_attention_backward_cpu(dq.b, dk.b, dv.b, dattn, q, k, v, ao.b, lse, NULL, n_h * d, n_kv * d, B, T,
                                       n_h, n_kv, d, 3, 1e4f);
        } else {
            be->checkpoint_attention_forward(ao.a, lse, q, k, v, n_h * d, n_kv * d, B, T, n_h, n_kv, d, 2);
            checkpoint_attention_forward_cpu(ao.b, lse, q, k, v, n_h * d, n_kv * d, B, T, n_h, n_kv, d, 2);
            be->checkpoint_attention_backward(dq.a, dk.a, dv.a, dattn, q, k, v, ao.b, lse, NULL, n_h * d,
                                              n_kv * d, B, T, n_h, n_kv, d, 2, 1e4f);
            checkpoint_attention_backward_cpu(dq.b, dk.b, dv.b, dattn, q, k, v, ao.b, lse, NULL, n_h * d,
                                              n_kv * d, B, T, n_h, n_kv, d, 2, 1e4f);
        }
        CHECK(pair_same(ao) && pair_same(dq) && pair_same(dk) && pair_same(dv));
    }

    // Mamba: conv (x inside an in_proj-like [BT, 2E]), silu, scan (B, C inside an x_proj-like [BT, r+2N]).
    float *xz = grandom(BT * 2 * E, -1, 1), *cw = grandom(E * K, -0.5, 0.5), *cb = grandom(E, -0.5, 0.5);
    float *xdbl = grandom(BT * (r + 2 * N), -1, 1), *dtr = grandom(BT * E, -1, 1), *dtb = grandom(E, -3, -1);
    float *A_log = grandom(E * N, -1, 1), *D = grandom(E, 0.5, 1.5), *dy = grandom(BT * E, -1, 1);
    pair co = pair_random(BT * E, 0, 0), dxz = pair_random(BT * 2 * E, 0, 0), dcw = pair_random(E * K, -1, 1);
    pair dcb = pair_random(E, -1, 1), so = pair_random(BT * E, 0, 0), st = pair_random(B * E * N, 0, 0);
    be->causal_conv1d_forward(co.a, xz, 2 * E, cw, cb, B, T, E, K);
    causal_conv1d_forward_cpu(co.b, xz, 2 * E, cw, cb, B, T, E, K);
    CHECK(pair_same(co));
    be->causal_conv1d_backward(dxz.a, dcw.a, dcb.a, dy, xz, 2 * E, cw, NULL, B, T, E, K);
    causal_conv1d_backward_cpu(dxz.b, dcw.b, dcb.b, dy, xz, 2 * E, cw, NULL, B, T, E, K);
    CHECK(pair_same(dxz) && pair_same(dcw) && pair_same(dcb));
    be->silu_forward(so.a, co.a, BT * E);
    silu_forward_cpu(so.b, co.b, BT * E);
    CHECK(pair_same(so));
    be->silu_backward(co.a, dy, so.a, BT * E);
    silu_backward_cpu(co.b, dy, so.b, BT * E);
    CHECK(pair_same(co));

    const int bcs = r + 2 * N;
    be->selective_scan_forward(co.a, st.a, so.a, dtr, dtb, A_log, xdbl + r, xdbl + r + N, bcs, D, xz + E, 2 * E,
                               B, T, E, N);
    selective_scan_forward_cpu(co.b, st.b, so.b, dtr, dtb, A_log, xdbl + r, xdbl + r + N, bcs, D, xz + E, 2 * E,
                               B, T, E, N);
    CHECK(pair_same(co) && pair_same(st));
    size_t ws_n = be->selective_scan_backward_workspace_size(B, T, E, N) / sizeof(float);
    float *ws = galloc(ws_n);
    pair du = pair_random(BT * E, 0, 0), ddt = pair_random(BT * E, 0, 0), dxd = pair_random(BT * bcs, 0, 0);
    pair dA = pair_random(E * N, -1, 1), dD = pair_random(E, -1, 1), ddb = pair_random(E, -1, 1);
    be->selective_scan_backward(du.a, ddt.a, dxd.a + r, dxd.a + r + N, dxz.a + E, dA.a, dD.a, ddb.a, dy, so.a,
                                dtr, dtb, A_log, xdbl + r, xdbl + r + N, bcs, D, xz + E, 2 * E, ws, B, T, E, N);
    selective_scan_backward_cpu(du.b, ddt.b, dxd.b + r, dxd.b + r + N, dxz.b + E, dA.b, dD.b, ddb.b, dy, so.b,
                                dtr, dtb, A_log, xdbl + r, xdbl + r + N, bcs, D, xz + E, 2 * E, ws, B, T, E, N);
    CHECK(pair_same(du) && pair_same(ddt) && pair_same(dxd) && pair_same(dxz) && pair_same(dA) &&
          pair_same(dD) && pair_same(ddb));

    // SwiGLU on a fused [BT, 2C] buffer, cross-entropy, add, copy_rows.
    float *gu = grandom(BT * 2 * C, -2, 2);
    pair sw = pair_random(BT * C, 0, 0), dgu = pair_random(BT * 2 * C, 0, 0);
    be->swiglu_forward(sw.a, gu, gu + C, 2 * C, BT, C);
    swiglu_forward_cpu(sw.b, gu, gu + C, 2 * C, BT, C);
    CHECK(pair_same(sw));
    be->swiglu_backward(dgu.a, dgu.a + C, x, gu, gu + C, 2 * C, BT, C);
    swiglu_backward_cpu(dgu.b, dgu.b + C, x, gu, gu + C, 2 * C, BT, C);
    CHECK(pair_same(dgu));

    pair loss = pair_random(BT, 0, 0), dlog = pair_random(BT * In, 0, 0);
    be->cross_entropy_forward(loss.a, lin.a, tgt, BT, In);
    cross_entropy_forward_cpu(loss.b, lin.b, tgt, BT, In);
    CHECK(pair_same(loss));
    be->cross_entropy_backward(dlog.a, lin.a, tgt, 0.25f, BT, In);
    cross_entropy_backward_cpu(dlog.b, lin.b, tgt, 0.25f, BT, In);
    CHECK(pair_same(dlog));
    // The optional fused slot (filled on CPU): the same losses and dlogits as the two ops, here in place.
    CHECK(be->cross_entropy_fused != NULL);
    if (be->cross_entropy_fused) {
        pair floss = pair_random(BT, 0, 0), flog = pair_random(BT * In, 0, 0);
        memcpy(flog.a, lin.a, BT * In * sizeof(float));
        be->cross_entropy_fused(floss.a, flog.a, flog.a, tgt, 0.25f, BT, In);
        CHECK(memcmp(floss.a, loss.b, BT * sizeof(float)) == 0 && memcmp(flog.a, dlog.b, BT * In * sizeof(float)) == 0);
        pair_free(floss), pair_free(flog);
    }

    be->add(out.a, x, dx.a, BT * C);
    add_cpu(out.b, x, dx.b, BT * C);
    CHECK(pair_same(out));
    be->copy_rows(sw.a, 3, xz + 1, 2 * E, BT, 3);
    copy_rows_cpu(sw.b, 3, xz + 1, 2 * E, BT, 3);
    CHECK(pair_same(sw));

    // AdamW through the table also refreshes the forward copy of the weights.
    pair pm = pair_random(50, -1, 1), mm = pair_random(50, 0, 0), vv = pair_random(50, 0, 0);
    float *g = grandom(50, -1, 1), *fwd_copy = galloc(50);
    be->adamw_step(pm.a, fwd_copy, g, mm.a, vv.a, 50, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3, 1234u);
    adamw_step_cpu(pm.b, g, mm.b, vv.b, 50, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3);
    CHECK(pair_same(pm) && pair_same(mm) && pair_same(vv));
    CHECK(memcmp(fwd_copy, pm.a, 50 * sizeof(float)) == 0);
    be->adamw_step(pm.a, pm.a, g, mm.a, vv.a, 50, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 4, 1u); // aliased copy
    adamw_step_cpu(pm.b, g, mm.b, vv.b, 50, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 4);
    CHECK(pair_same(pm));

    const float *ts[2] = {g, pm.a};
    size_t ns[2] = {50, 50};
    CHECK(be->global_norm(ts, ns, 2, NULL) == global_norm_cpu(ts, ns, 2, NULL));

    pair all[] = {out, lin, dx, demb, dw,  dW, db, rq,  ao, dq,  dk,   dv,   co, dxz, dcw, dcb,
                  so,  st,  du, ddt,  dxd, dA, dD, ddb, sw, dgu, loss, dlog, pm, mm,  vv};
    int guards = 1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        guards &= guards_intact(all[i].a) && guards_intact(all[i].b);
        pair_free(all[i]);
    }
    CHECK(guards && guards_intact(ws) && guards_intact(fwd_copy) && guards_intact(rstd) && guards_intact(lse));
    float *singles[] = {x,  w,  W,    bias, emb, dout,  q, k,  v,  dattn, rstd, lse,     xz,
                        cw, cb, xdbl, dtr,  dtb, A_log, D, dy, ws, gu,    g,    fwd_copy};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) gfree(singles[i]);
}

int main(int argc, char **argv) {
    (void)argc;
    rng_seed(29);
    test_lookup();
    const scout_backend *cpu = scout_backend_cpu();
    test_every_slot_filled(cpu);
    test_memory(cpu);
    test_adapters(cpu);
    return check_summary(argv[0]);
}
