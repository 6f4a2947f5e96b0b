"""Receipt paper geometry shared by the layout, the driver and the simulator."""
from __future__ import annotations

DOT_WIDTH = {58: 384, 80: 576}      # printable dots of 58 / 80 mm rolls at 203 dpi
CELL = 12                           # font A is 12 x 24 dots: one column is 12 dots
COLUMNS = {mm: dots // CELL for mm, dots in DOT_WIDTH.items()}   # 32 / 48
