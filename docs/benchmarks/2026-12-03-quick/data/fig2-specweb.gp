set terminal pngcairo noenhanced size 900,560 font ',10'
set output '/work/main/results/2026-12-03-quick/fig2-specweb.png'
set title 'SPECweb99-like file set, 5 requests per connection, no idle connections'
set xlabel 'requests/s offered'
set ylabel 'replies/s'
set key left top
set grid
set yrange [0:*]
set xrange [0:*]
set datafile missing 'NaN'
plot '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:2 with linespoints title 'c10k select', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:3 with linespoints title 'c10k poll', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:4 with linespoints title 'c10k epoll', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:5 with linespoints title 'c10k epoll-et', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:6 with linespoints title 'c10k io_uring', x with lines dashtype 2 lc rgb 'gray' title 'request rate'
set terminal svg noenhanced size 900,560
set output '/work/main/results/2026-12-03-quick/fig2-specweb.svg'
set title 'SPECweb99-like file set, 5 requests per connection, no idle connections'
set xlabel 'requests/s offered'
set ylabel 'replies/s'
set key left top
set grid
set yrange [0:*]
set xrange [0:*]
set datafile missing 'NaN'
plot '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:2 with linespoints title 'c10k select', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:3 with linespoints title 'c10k poll', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:4 with linespoints title 'c10k epoll', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:5 with linespoints title 'c10k epoll-et', '/work/main/results/2026-12-03-quick/data/fig2-specweb.dat' using 1:6 with linespoints title 'c10k io_uring', x with lines dashtype 2 lc rgb 'gray' title 'request rate'
