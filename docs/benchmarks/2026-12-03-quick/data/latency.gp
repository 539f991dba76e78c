set terminal pngcairo noenhanced size 900,560 font ',10'
set output '/work/main/results/2026-12-03-quick/latency.png'
set title 'Latency percentiles (GET /plain, 64 connections, closed loop)'
set ylabel 'microseconds'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.8
set xtics rotate by -30
set grid ytics
set datafile missing 'NaN'
set logscale y
plot '/work/main/results/2026-12-03-quick/data/latency.dat' using 2:xtic(1) title 'p50', '/work/main/results/2026-12-03-quick/data/latency.dat' using 3 title 'p90', '/work/main/results/2026-12-03-quick/data/latency.dat' using 4 title 'p99', '/work/main/results/2026-12-03-quick/data/latency.dat' using 5 title 'p99.9'
set terminal svg noenhanced size 900,560
set output '/work/main/results/2026-12-03-quick/latency.svg'
set title 'Latency percentiles (GET /plain, 64 connections, closed loop)'
set ylabel 'microseconds'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.8
set xtics rotate by -30
set grid ytics
set datafile missing 'NaN'
set logscale y
plot '/work/main/results/2026-12-03-quick/data/latency.dat' using 2:xtic(1) title 'p50', '/work/main/results/2026-12-03-quick/data/latency.dat' using 3 title 'p90', '/work/main/results/2026-12-03-quick/data/latency.dat' using 4 title 'p99', '/work/main/results/2026-12-03-quick/data/latency.dat' using 5 title 'p99.9'
