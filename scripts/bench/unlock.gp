# SPDX-License-Identifier: Apache-2.0
# gnuplot -e "datafile='WORK/unlock.dat'; outfile='scripts/bench/unlock.png'" scripts/bench/unlock.gp
# Columns: index, label, median ms, p10 ms, p90 ms (written by peer_report.py).
set terminal pngcairo size 820,420 font "sans,11"
set output outfile
set title "Boot-path unlock of one LUKS2 image, process start included (median, p10–p90)"
set ylabel "ms (log scale)"
set logscale y
set yrange [10:10000]
set grid ytics
set style fill solid 0.6 border -1
set boxwidth 0.5
unset key
set xrange [-0.6:2.6]
set arrow from -0.6,50 to 2.6,50 nohead dt 2 lc rgb "#c00000"
set label "50 ms budget" at 0.27,57 tc rgb "#c00000" front
plot datafile using 1:3:xtic(2) with boxes lc rgb "#4472c4", \
     '' using 1:3:4:5 with yerrorbars lc rgb "black" pt -1, \
     '' using 1:3:(sprintf("%.0f ms", $3)) with labels offset 4.5,0.6
