// ckpt.c: see ckpt.h.
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "safetensors.h"
#include "xio.h"

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void ckpt_make_dir(const char *path) {
    char *p = xstrdup(path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) die(SCOUT_EXIT_IO, "cannot create directory %s: %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    if (!is_dir(path)) die(SCOUT_EXIT_IO, "%s exists and is not a directory", path);
    free(p);
}

// Removes a checkpoint directory (it holds plain files only).
static void remove_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *f = path_join(path, e->d_name);
        if (unlink(f) != 0) die(SCOUT_EXIT_IO, "cannot remove %s: %s", f, strerror(errno));
        free(f);
    }
    closedir(d);
    if (rmdir(path) != 0) die(SCOUT_EXIT_IO, "cannot remove %s: %s", path, strerror(errno));
}

static void write_text_atomic(const char *path, const char *text) {
    atomic_out *o = atomic_open(path);
    atomic_write(o, text, strlen(text));
    atomic_commit(o);
}

// ---- save -----------------------------------------------------------------------------------------------

static const char *const OPT_PREFIX[3] = {"master.", "exp_avg.", "exp_avg_sq."};

static void save_optimizer(const char *path, const model *m, const float *bufs[3]) {
    const param_table *pt = &m->pt;
    const int n = 3 * pt->n;
    st_entry *e = xmalloc((size_t)n * sizeof *e);
    char **names = xmalloc((size_t)n * sizeof *names);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < pt->n; i++) {
            const param_tensor *t = &pt->t[i];
            size_t len = strlen(OPT_PREFIX[k]) + strlen(t->name) + 1;
            char *name = names[k * pt->n + i] = xmalloc(len);
            snprintf(name, len, "%s%s", OPT_PREFIX[k], t->name);
            e[k * pt->n + i] = (st_entry){name, t->ndim, t->shape, bufs[k] + t->offset};
        }
    st_write(path, e, n, ST_F32, NULL);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(e);
}

void ckpt_save(const char *run_dir, uint64_t step, const model *m, const model_config *cfg, const json_t *trainer) {
    ckpt_make_dir(run_dir);
    char name[32];
    snprintf(name, sizeof name, "step_%08llu", (unsigned long long)step);
    char *final = path_join(run_dir, name), *tmp = xmalloc(strlen(final) + 8);
    sprintf(tmp, "%s.tmp", final);
    if (is_dir(tmp)) remove_dir(tmp); // left by a run that died while saving
    if (mkdir(tmp, 0755) != 0) die(SCOUT_EXIT_IO, "cannot create directory %s: %s", tmp, strerror(errno));

    char *p = path_join(tmp, "config.json");
    config_write(cfg, p);
    free(p);

    const size_t nf = m->pt.n_floats;
    float *master = xmalloc(nf * sizeof(float)), *mom1 = xmalloc(nf * sizeof(float)), *mom2 = xmalloc(nf * sizeof(float));
    model_get_params(m, master);
    model_get_moments(m, mom1, mom2);
    static const char *const meta[] = {"format", "pt", NULL};
    p = path_join(tmp, "model.safetensors");
    params_save(&m->pt, master, p, "", ST_F32, meta);
    free(p);
    p = path_join(tmp, "optimizer.safetensors");
    save_optimizer(p, m, (const float *[3]){master, mom1, mom2});
    free(p);
    free(master), free(mom1), free(mom2);

    char *text = json_dumps(trainer, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) die(SCOUT_EXIT_FAIL, "cannot serialise trainer.json");
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    strcpy(text + len, "\n");
    p = path_join(tmp, "trainer.json");
    write_text_atomic(p, text);
    free(p);
    free(text);

    // Re-saving a step (a resumed run interrupted at once): the old directory goes only after the new one
    // is in place, so some complete copy exists at every moment.
    char *old = NULL;
    if (is_dir(final)) {
        old = xmalloc(strlen(final) + 8);
        sprintf(old, "%s.old", final);
        if (is_dir(old)) remove_dir(old);
        if (rename(final, old) != 0) die(SCOUT_EXIT_IO, "cannot rename %s: %s", final, strerror(errno));
    }
    if (rename(tmp, final) != 0) die(SCOUT_EXIT_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
    if (old) remove_dir(old), free(old);
    char line[48];
    snprintf(line, sizeof line, "%s\n", name);
    p = path_join(run_dir, "latest");
    write_text_atomic(p, line);
    free(p);
    free(final);
    free(tmp);
}

// ---- resolve --------------------------------------------------------------------------------------------

static int is_checkpoint(const char *dir) {
    char *t = path_join(dir, "trainer.json");
    int ok = is_file(t);
    free(t);
    return ok;
}

// The highest step_%08d directory of run_dir holding trainer.json, or NULL.
static char *highest_step_dir(const char *run_dir) {
    DIR *d = opendir(run_dir);
    if (!d) return NULL;
    char *best = NULL;
    unsigned long long best_step = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long s;
        int used = 0;
        if (sscanf(e->d_name, "step_%llu%n", &s, &used) != 1 || e->d_name[used] != 0) continue; // skips *.tmp
        char *p = path_join(run_dir, e->d_name);
        if (is_checkpoint(p) && (!best || s > best_step)) {
            free(best);
            best = p, best_step = s;
        } else {
            free(p);
        }
    }
    closedir(d);
    return best;
}

static char *latest_dir(const char *run_dir) {
    char *lp = path_join(run_dir, "latest");
    FILE *f = fopen(lp, "r");
    free(lp);
    if (!f) return NULL;
    char name[64] = {0};
    char *got = fgets(name, sizeof name, f);
    fclose(f);
    if (!got) return NULL;
    name[strcspn(name, "\r\n")] = 0;
    if (!name[0] || strchr(name, '/')) return NULL;
    char *p = path_join(run_dir, name);
    if (is_checkpoint(p)) return p;
    free(p);
    return NULL;
}

char *ckpt_resolve(const char *path) {
    if (is_checkpoint(path)) return xstrdup(path);
    if (!is_dir(path)) die(SCOUT_EXIT_IO, "--resume %s: no such checkpoint or run directory", path);
    char *p = latest_dir(path);
    if (!p) p = highest_step_dir(path);
    if (!p) die(SCOUT_EXIT_IO, "--resume %s: the directory holds no complete checkpoint (step_*/trainer.json)", path);
    return p;
}

int ckpt_run_has_checkpoint(const char *run_dir) {
    char *p = latest_dir(run_dir);
    if (!p) p = highest_step_dir(run_dir);
    free(p);
    return p != NULL;
}

// ---- load -----------------------------------------------------------------------------------------------

json_t *ckpt_read_trainer(const char *ckpt_dir) {
    char *p = path_join(ckpt_dir, "trainer.json");
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) die(SCOUT_EXIT_DATA, "%s: line %d: %s", p, je.line, je.text);
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "step")) ||
        !json_is_object(json_object_get(j, "recipe")) || !json_is_object(json_object_get(j, "data")))
        die(SCOUT_EXIT_DATA, "%s: not a scout-train trainer state (step, recipe and data expected)", p);
    free(p);
    return j;
}

void ckpt_load_state(const char *ckpt_dir, model *m) {
    char *p = path_join(ckpt_dir, "optimizer.safetensors");
    st_file f;
    st_open(&f, p);
    float *bufs[3];
    for (int k = 0; k < 3; k++) {
        bufs[k] = params_alloc(&m->pt); // zeroed, so the alignment padding stays zero
        params_load(&m->pt, bufs[k], &f, OPT_PREFIX[k]);
    }
    st_close(&f);
    model_set_params(m, bufs[0]);
    model_set_moments(m, bufs[1], bufs[2]);
    for (int k = 0; k < 3; k++) free(bufs[k]);
    free(p);
}

void ckpt_load_weights(const char *path, model *m) {
    st_file f;
    st_open(&f, path);
    float *buf = params_alloc(&m->pt);
    params_load(&m->pt, buf, &f, "");
    st_close(&f);
    model_set_params(m, buf);
    free(buf);
}
