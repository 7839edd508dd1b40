/* conv-rate: single-thread GFLOP/s of the conv2d plugin's training step
 * (forward + backward) on the convolutions of the CNN benchmark models
 * (LeNet and vggsmall of /work/shared/bench/torch_cnn.py), next to
 * cblas_sgemm's rate on the same product shape, measured the same way in
 * the same run (as scripts/sgemm-rate.c measures it).
 *
 *   cc -O2 conv-rate.c -o conv-rate -I../include $(pkg-config --cflags --libs openblas) -ldl
 *   ./conv-rate ../build/plugins/.libs/layer_conv2d.so [B [REPEATS [LAYER...]]]
 *
 * With CONV_RATE_PROFILE=1 in the environment it runs only the layers'
 * steps (for perf record or callgrind); with CONV_RATE_BEST=1 it reports
 * the best rate of the repeats instead of the median (steadier when
 * comparing two builds on a busy machine); CONV_RATE_METHOD=im2col or
 * direct sets the layers' "method" (default "auto").
 *
 * A step of a layer with M = B * Ho * Wo output positions, K = kh * kw * C
 * and F filters counts 2 M K F flops for the forward, as many for the
 * kernel's gradient and as many again for dx; the first layer of a network
 * gets no dx (the host passes NULL), as in training. Each rate is the
 * median of REPEATS (default 5) timings of about 0.2 s each.
 */
#include <dptrain/plugin.h>

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct layer {
    const char *name;
    uint64_t H, W, C, F, k;
    const char *padding;
    int first; /* the network's first layer: no dx */
};

static const struct layer layers[] = {
    {"lenet1", 28, 28, 1, 6, 5, "same", 1},     {"lenet2", 14, 14, 6, 16, 5, "valid", 0},
    {"vgg1", 32, 32, 3, 32, 3, "same", 1},      {"vgg2", 32, 32, 32, 32, 3, "same", 0},
    {"vgg3", 16, 16, 32, 64, 3, "same", 0},     {"vgg4", 16, 16, 64, 64, 3, "same", 0},
};

/* The settings of the layer being created, for the host's getters. */
static const struct layer *current;
/* Set from CONV_RATE_PROFILE: no sgemm timings. */
static int profile;

static int get_int(void *ctx, const char *key, int64_t def, int64_t min, int64_t max,
                   int64_t *out)
{
    (void)ctx, (void)min, (void)max;
    *out = strcmp(key, "filters") == 0       ? (int64_t)current->F
           : strcmp(key, "kernel_size") == 0 ? (int64_t)current->k
                                             : def;
    return 0;
}

static int get_float(void *ctx, const char *key, double def, double min, double max,
                     double *out)
{
    (void)ctx, (void)key, (void)min, (void)max;
    *out = def;
    return 0;
}

static int get_bool(void *ctx, const char *key, int def, int *out)
{
    (void)ctx, (void)key;
    *out = def;
    return 0;
}

static int get_string(void *ctx, const char *key, const char *def, const char *const *choices,
                      const char **out)
{
    (void)ctx, (void)choices;
    const char *method = getenv("CONV_RATE_METHOD");
    *out = strcmp(key, "padding") == 0            ? current->padding
           : strcmp(key, "method") == 0 && method ? method
                                                  : def;
    return 0;
}

static int error(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conv-rate: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return -1;
}

static double uniform(struct dpt_rng *r)
{
    r->counter = r->counter * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(r->counter >> 11) * 0x1p-53;
}

static double normal(struct dpt_rng *r)
{
    double u = uniform(r), v = uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static const struct dpt_host host = {
    .abi_major = DPT_ABI_MAJOR, .abi_minor = DPT_ABI_MINOR, .get_int = get_int,
    .get_float = get_float, .get_bool = get_bool, .get_string = get_string, .error = error,
    .rng_uniform = uniform, .rng_normal = normal,
};

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *floats(size_t n, float v)
{
    float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64 + 64);
    if (!p) {
        fprintf(stderr, "conv-rate: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = v * (float)((i * 7919) % 17) - 0.5f * v * 16;
    }
    return p;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Calls run() for about 0.2 s; GFLOP/s. */
static double rate(void (*run)(void *), void *arg, double flops)
{
    int n = 0;
    double t0 = seconds(), t;
    do {
        run(arg);
        n++;
    } while ((t = seconds() - t0) < 0.2);
    return flops * n / t * 1e-9;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return getenv("CONV_RATE_BEST") && atoi(getenv("CONV_RATE_BEST")) ? v[n - 1] : v[n / 2];
}

struct step {
    const struct dpt_layer_plugin *p;
    void *st;
    float *params, *dparams, *x, *y, *dy, *dx;
    struct dpt_batch b;
};

static void run_step(void *arg)
{
    struct step *s = arg;
    s->p->forward(s->st, s->params, s->x, s->y, &s->b);
    s->p->backward(s->st, s->params, s->x, s->y, s->dy, s->dx, s->dparams, &s->b);
}

struct gemm {
    int M, N, K;
    float *a, *b, *c;
};

/* As scripts/sgemm-rate.c: (M, K) x (N, K)^T. */
static void run_gemm(void *arg)
{
    struct gemm *g = arg;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->M, g->N, g->K, 1, g->a, g->K, g->b,
                g->K, 0, g->c, g->N);
}

static struct gemm gemm_make(int M, int N, int K)
{
    return (struct gemm){M, N, K, floats((size_t)M * K, 0.01f), floats((size_t)N * K, 0.01f),
                         floats((size_t)M * N, 0)};
}

static void gemm_free(struct gemm *g)
{
    free(g->a), free(g->b), free(g->c);
}

static void bench(const struct dpt_layer_plugin *p, const struct layer *l, size_t B,
                  int repeats)
{
    current = l;
    struct dpt_shape in = {.rank = 3, .dims = {l->H, l->W, l->C}};
    struct dpt_layer_info info;
    struct step s = {.p = p};
    if (p->create(&s.st, &host, &in, &info) < 0) {
        exit(1);
    }
    size_t n_in = l->H * l->W * l->C, n_out = info.out.dims[0] * info.out.dims[1] * l->F;
    s.params = floats(info.n_params, 0), s.dparams = floats(info.n_params, 0);
    struct dpt_rng rng = {1, 1};
    p->init(s.st, s.params, &host, &rng);
    s.x = floats(B * n_in, 0.1f), s.y = floats(B * n_out, 0);
    s.dy = floats(B * n_out, 0.01f), s.dx = l->first ? NULL : floats(B * n_in, 0);
    size_t ws = p->workspace_bytes ? p->workspace_bytes(s.st, B) : 0;
    s.b = (struct dpt_batch){.B = B, .ws = ws ? floats(ws / sizeof(float), 0) : NULL,
                             .training = 1, .scale = 1.0f / (float)B};
    double M = (double)B * (double)(info.out.dims[0] * info.out.dims[1]);
    double K = (double)(l->k * l->k * l->C), F = (double)l->F;
    double flops = 2 * M * K * F * (l->first ? 2 : 3);
    struct gemm g = gemm_make((int)M, (int)F, (int)K);
    double conv_r[32], gemm_r[32];
    run_step(&s), run_gemm(&g); /* warm */
    for (int r = 0; r < repeats; r++) {
        conv_r[r] = rate(run_step, &s, flops);
        gemm_r[r] = profile ? 0 : rate(run_gemm, &g, 2 * M * K * F);
    }
    gemm_free(&g);
    double conv = median(conv_r, repeats), gemm = median(gemm_r, repeats);
    printf("%-7s %2llux%-2llux%-2llu k%llu F%-2llu %-5s %s M=%-6.0f K=%-4.0f  conv %6.1f  "
           "sgemm(M,F,K) %6.1f  ratio %.2f  ws %.1f MB\n",
           l->name, (unsigned long long)l->H, (unsigned long long)l->W,
           (unsigned long long)l->C, (unsigned long long)l->k, (unsigned long long)l->F,
           l->padding, l->first ? "no dx" : "dx   ", M, K, conv, gemm, conv / gemm,
           (double)ws / 1048576);
    p->destroy(s.st);
    free(s.params), free(s.dparams), free(s.x), free(s.y), free(s.dy), free(s.dx);
    free(s.b.ws);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: conv-rate PLUGIN.so [B [REPEATS [LAYER...]]]\n");
        return 2;
    }
    size_t B = argc > 2 ? (size_t)atoi(argv[2]) : 64;
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    if (repeats < 1 || repeats > 32) {
        repeats = 5;
    }
    openblas_set_num_threads(1);
    void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    dpt_plugins_fn entry = so ? (dpt_plugins_fn)(uintptr_t)dlsym(so, DPT_PLUGINS_SYMBOL) : NULL;
    if (!entry) {
        fprintf(stderr, "conv-rate: %s\n", dlerror());
        return 1;
    }
    const struct dpt_layer_plugin *p = (const struct dpt_layer_plugin *)entry()[0];
    profile = getenv("CONV_RATE_PROFILE") && atoi(getenv("CONV_RATE_PROFILE"));
    struct gemm big = gemm_make(1024, 1024, 1024);
    double big_r[32];
    for (int r = 0; r < repeats; r++) {
        big_r[r] = profile ? 0 : rate(run_gemm, &big, 2.0 * 1024 * 1024 * 1024);
    }
    gemm_free(&big);
    printf("GFLOP/s, B = %zu, one thread, medians of %d; sgemm 1024x1024x1024: %.1f\n", B,
           repeats, median(big_r, repeats));
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        int wanted = argc <= 4;
        for (int a = 4; a < argc; a++) {
            wanted |= strcmp(argv[a], layers[i].name) == 0;
        }
        if (wanted) {
            bench(p, &layers[i], B, repeats);
        }
    }
    return 0;
}
