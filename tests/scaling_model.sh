#!/bin/sh
# scripts/scaling-model, the step model of docs/PERFORMANCE.md ("Scaling
# past this machine"), gives the figures one computes by hand from its
# formula: step(P) = ceil(B / P) * c + a * alpha + b * n * beta, with n =
# 4 * (parameters + 5) bytes and (a, b) the algorithm's messages and bytes;
# its fit recovers alpha and beta from times made with them; and it refuses
# bad input with a message naming the option and exit status 2.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

model() {
    "$top_srcdir/scripts/scaling-model" "$@"
}

# field P COLUMN FILE: a column of the tsv row of P ranks (columns: P,
# rows_per_rank, compute_ms, allreduce_ms, algorithm, samples_per_s,
# speedup, efficiency, break_even_rows).
field() {
    awk -F '\t' -v p="$1" -v c="$2" '$1 == p { print $c }' "$3"
}

# near X WANT: |X - WANT| <= 1e-6 * |WANT| + 1e-6.
near() {
    awk -v x="$1" -v w="$2" 'BEGIN { d = x - w; if (d < 0) d = -d; a = w < 0 ? -w : w
                                     exit !(x != "" && d <= 1e-6 * a + 1e-6) }'
}

# 1. Free communication (alpha = beta = 0): P times the 1-rank speed while
#    every rank has whole rows, then capped by the batch: 64 rows at 1000
#    samples/s are 64000 samples/s on 64 ranks and on 1024 alike. With a
#    batch of 100, 8 ranks get 13 rows (the busiest rank decides): 100 /
#    13 ms. At P = 128 the efficiency is 50%, not under: it stops at 256.
must model --params 1000 --samples-per-s 1000 --batch 64 --alpha-us 0 --beta-ns 0 --format tsv
cp log free.tsv
for p in 1 2 8 64; do
    check "1. alpha = beta = 0, P = $p: $((1000 * p)) samples/s" \
        near "$(field "$p" 6 free.tsv)" "$((1000 * p))"
done
check "1. P = 1024: capped by the batch at 64000" near "$(field 1024 6 free.tsv)" 64000
check "1. P = 1024: speed-up 64" near "$(field 1024 7 free.tsv)" 64
must model --params 1000 --samples-per-s 1000 --batch 100 --alpha-us 0 --beta-ns 0 --format tsv
cp log b100.tsv
check "1. batch 100 on 8 ranks: 13 rows per rank" test "$(field 8 2 b100.tsv)" = 13
check "1. ... 100 / 0.013 s = 7692.3 samples/s" near "$(field 8 6 b100.tsv)" 7692.3
must model --params 1000 --samples-per-s 1000 --batch 64 --alpha-us 0 --beta-ns 0
check "1. stops at P = 256 (25%) from the batch, not the allreduce" \
    grep -x "stops scaling at P = 256: efficiency 25% < 50%, from the batch: 64 rows for 256 ranks .*" log

# 2. By hand, 8 ranks, 249995 parameters: n = 4 * 250000 = 1e6 bytes;
#    100 Gb/s is beta = 8 / 1e11 s = 0.08 ns per byte; alpha = 2 us; 10 us
#    per sample, batch 256, so 32 rows = 320 us of compute per rank.
#      ring:               14 alpha + 1.75 n beta = 28 + 140 = 168 us
#      recursive doubling:  3 alpha + 3 n beta    =  6 + 240 = 246 us
#      rabenseifner:        6 alpha + 1.75 n beta = 12 + 140 = 152 us
#    ring: step 488 us, 256 / 488 us = 524590.16 samples/s, speed-up over
#    100000 5.2459, efficiency 0.65574; compute equals the allreduce at
#    168 / 10 = 16.8 rows per rank.
net="--params 249995 --sample-us 10 --batch 256 --gbps 100 --latency-us 2 --format tsv"
# shellcheck disable=SC2086 # $net is a list of options
must model $net --algorithm ring
cp log ring.tsv
check "2. ring, P = 8: allreduce 0.168 ms" near "$(field 8 4 ring.tsv)" 0.168
check "2. ring, P = 8: 524590.2 samples/s" near "$(field 8 6 ring.tsv)" 524590.2
check "2. ring, P = 8: speed-up 5.2459" near "$(field 8 7 ring.tsv)" 5.2459
check "2. ring, P = 8: efficiency 0.6557" near "$(field 8 8 ring.tsv)" 0.6557
check "2. ring, P = 8: break-even at 16.80 rows per rank" near "$(field 8 9 ring.tsv)" 16.80
check "2. ring, P = 8: compute 0.320 ms" near "$(field 8 3 ring.tsv)" 0.320
# shellcheck disable=SC2086
must model $net --algorithm recursive-doubling
check "2. recursive doubling, P = 8: allreduce 0.246 ms" near "$(field 8 4 log)" 0.246
# shellcheck disable=SC2086
must model $net --algorithm rabenseifner
check "2. rabenseifner, P = 8: allreduce 0.152 ms" near "$(field 8 4 log)" 0.152
#    Open MPI 4.1 picks Rabenseifner's for 1 MB on 8 ranks; for LeNet's
#    246844 bytes it picks the segmented ring on 2, recursive doubling on
#    64 to 255 ranks and Rabenseifner's on 256 and more.
# shellcheck disable=SC2086
must model $net
check "2. Open MPI's pick for 1 MB on 8 ranks: rabenseifner" \
    test "$(field 8 5 log)" = rabenseifner
must model --params 61706 --sample-us 50 --batch 64 --format tsv
cp log lenet.tsv
check "2. 246844 bytes: segmented ring on 2 ranks" test "$(field 2 5 lenet.tsv)" = segmented-ring
check "2. ... recursive doubling on 64 and 128" \
    test "$(field 64 5 lenet.tsv) $(field 128 5 lenet.tsv)" = "recursive-doubling recursive-doubling"
check "2. ... rabenseifner on 256" test "$(field 256 5 lenet.tsv)" = rabenseifner
check "2. 1 rank: no allreduce" test "$(field 1 4 lenet.tsv) $(field 1 5 lenet.tsv)" = "0.000000 -"

# 3. Overlap: with --overlap 0.5 the ring's 168 us hide under 160 of the
#    320 us, so the step is 328 us (780487.8 samples/s) and the break-even
#    168 / (1.5 * 10) = 11.2 rows per rank.
# shellcheck disable=SC2086
must model $net --algorithm ring --overlap 0.5
check "3. overlap 0.5, ring, P = 8: 780487.8 samples/s" near "$(field 8 6 log)" 780487.8
check "3. ... break-even 11.20 rows per rank" near "$(field 8 9 log)" 11.20

# 4. Where it stops scaling: alpha 10 us, beta 0, ring, 10 us per sample,
#    batch 64. P = 4: 160 us of compute, 6 * 10 = 60 of allreduce, 73%;
#    P = 8: 80 against 140, 36% < 50%: it stops there, at 8 rows per rank,
#    break-even 14.0.
must model --params 1000 --sample-us 10 --batch 64 --alpha-us 10 --beta-ns 0 --algorithm ring
check "4. stops scaling at P = 8, 8 rows per rank, break-even 14.0" \
    grep -x "stops scaling at P = 8: efficiency 36% < 50%, 8 rows per rank against a break-even of 14.0" log
#    On 1024 ranks the ring's 2046 messages take 20.46 ms: 2046 rows per
#    rank to match them, a global batch of 1024 x 2046.
check "4. 50% on 1024 ranks takes 1024 x 2046 = 2095104 rows" \
    grep -x "50% efficiency on P = 1024 takes a global batch of 1024 x 2046 = 2095104 rows or more" log
must model --params 1000 --sample-us 10 --batch 4096 --alpha-us 0 --beta-ns 0 --max-ranks 64
check "4. no communication cost: scales to the last P" grep -x "scales to P = 64 .*" log

# 5. --fit recovers alpha and beta from times made with them (2 ranks,
#    64 KB to 4 MB: 2 alpha + n beta, alpha 3 us, beta 0.1 ns per byte),
#    and --measured uses what it wrote: 2 ranks of 1e6 bytes, 10 us per
#    sample, batch 256: 1280 + 6 + 100 us, 184704.2 samples/s.
awk 'BEGIN { for (n = 65536; n <= 4194304; n *= 2)
                 printf "P 2 bytes %d median_us %.6f min_us 0 calls 1\n", n, 6 + n * 1e-4 }' \
    > rate.txt
must model --fit rate.txt --out fit.txt
check "5. fitted alpha 3 us" near "$(sed -n 's/^alpha_us //p' fit.txt)" 3
check "5. fitted beta 0.1 ns per byte" near "$(sed -n 's/^beta_ns_per_byte //p' fit.txt)" 0.1
must model --params 249995 --sample-us 10 --batch 256 --measured fit.txt --format tsv
check "5. --measured: P = 2 at 184704.2 samples/s" near "$(field 2 6 log)" 184704.2

# 6. --model asks dptrain summary for the count: the tutorial model has
#    30 features -> 10 -> 8 -> 1, 310 + 88 + 9 = 407 parameters.
must env DPTRAIN="$DPTRAIN" "$top_srcdir/scripts/scaling-model" \
    --model "$top_srcdir/examples/breast_cancer.cfg" --samples-per-s 1e6 --batch 32
check "6. --model: 407 parameters, 4 * 412 = 1648 bytes" \
    grep -x "model: 407 parameters, an allreduce of 1648 bytes per step; global batch 32" log

# 7. Bad input: a message naming the option, exit status 2.
ok="--params 1000 --samples-per-s 1000 --batch 64"
# shellcheck disable=SC2086
{
expect_exit 2 "scaling-model: --batch must be >= 1, got '0'" \
    model --params 1000 --samples-per-s 1000 --batch 0
expect_exit 2 "scaling-model: --batch must be a whole number, got '6.5'" \
    model --params 1000 --samples-per-s 1000 --batch 6.5
expect_exit 2 "scaling-model: --params must be >= 1, got '-5'" \
    model --params -5 --samples-per-s 1000 --batch 64
expect_exit 2 "scaling-model: --samples-per-s must be > 0, got '0'" \
    model --params 1000 --samples-per-s 0 --batch 64
expect_exit 2 "scaling-model: --gbps must be a number, got 'fast'" model $ok --gbps fast
expect_exit 2 "scaling-model: --overlap must be >= 0 and <= 1, got '2'" model $ok --overlap 2
expect_exit 2 "scaling-model: --max-ranks must be a power of two, got '1000'" \
    model $ok --max-ranks 1000
expect_exit 2 "give the model's size: --params N or --model FILE.cfg (one of them)" \
    model --samples-per-s 1000 --batch 64
expect_exit 2 "give the compute per sample of 1 rank x 1 thread" \
    model --params 1000 --samples-per-s 1000 --sample-us 3 --batch 64
expect_exit 2 "give the global batch: --batch B" model --params 1000 --samples-per-s 1000
expect_exit 2 "--alpha-us and --beta-ns go together" model $ok --alpha-us 3
expect_exit 2 "not both" model $ok --gbps 10 --beta-ns 1
expect_exit 2 "--measured takes alpha and beta from its file" \
    model $ok --measured fit.txt --latency-us 5
expect_exit 2 "--measured nofit.txt: No such file or directory" model $ok --measured nofit.txt
echo "alpha_us 3" > half.txt
expect_exit 2 "--measured half.txt: expected lines 'alpha_us X' and 'beta_ns_per_byte Y'" \
    model $ok --measured half.txt
expect_exit 2 "invalid choice: 'tree'" model $ok --algorithm tree
echo "P 2 bytes 64 oops" > bad.txt
expect_exit 2 "--fit bad.txt:1: not a line of allreduce-rate" model --fit bad.txt
expect_exit 2 "--fit: 0 lines on 2 ranks of 8388608 bytes or more" model --fit rate.txt --fit-min 8388608
}
expect_exit 2 "'.*dptrain summary nothere.cfg --format json' failed" \
    env DPTRAIN="$DPTRAIN" "$top_srcdir/scripts/scaling-model" --model nothere.cfg \
    --samples-per-s 1000 --batch 64
summary
