set terminal pngcairo noenhanced size 900,560 font ',10'
set output '/work/main/results/2026-12-03-quick/cpu-per-request.png'
set title 'Server CPU time per reply (GET /plain)'
set ylabel 'ns per reply'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.8
set xtics rotate by -30
set grid ytics
set datafile missing 'NaN'
set yrange [0:*]
plot '/work/main/results/2026-12-03-quick/data/cpu-per-request.dat' using 2:xtic(1) with boxes notitle
set terminal svg noenhanced size 900,560
set output '/work/main/results/2026-12-03-quick/cpu-per-request.svg'
set title 'Server CPU time per reply (GET /plain)'
set ylabel 'ns per reply'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.8
set xtics rotate by -30
set grid ytics
set datafile missing 'NaN'
set yrange [0:*]
plot '/work/main/results/2026-12-03-quick/data/cpu-per-request.dat' using 2:xtic(1) with boxes notitle
