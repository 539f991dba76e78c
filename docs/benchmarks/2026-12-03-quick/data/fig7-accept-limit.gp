set terminal pngcairo noenhanced size 900,560 font ',10'
set output '/work/main/results/2026-12-03-quick/fig7-accept-limit.png'
set title 'Accept limit 1, 10, unlimited, one-byte workload'
set xlabel 'requests/s offered'
set ylabel 'replies/s'
set key left top
set grid
set yrange [0:*]
set xrange [0:*]
set datafile missing 'NaN'
plot '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:2 with linespoints title 'c10k epoll accept-limit 1', '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:3 with linespoints title 'c10k epoll accept-limit 10', '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:4 with linespoints title 'c10k epoll accept-limit inf', x with lines dashtype 2 lc rgb 'gray' title 'request rate'
set terminal svg noenhanced size 900,560
set output '/work/main/results/2026-12-03-quick/fig7-accept-limit.svg'
set title 'Accept limit 1, 10, unlimited, one-byte workload'
set xlabel 'requests/s offered'
set ylabel 'replies/s'
set key left top
set grid
set yrange [0:*]
set xrange [0:*]
set datafile missing 'NaN'
plot '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:2 with linespoints title 'c10k epoll accept-limit 1', '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:3 with linespoints title 'c10k epoll accept-limit 10', '/work/main/results/2026-12-03-quick/data/fig7-accept-limit.dat' using 1:4 with linespoints title 'c10k epoll accept-limit inf', x with lines dashtype 2 lc rgb 'gray' title 'request rate'
