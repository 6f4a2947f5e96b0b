"""Licence-printer calibration: a sheet to measure, and the offsets it implies.

Pre-printed licence stock (套打) only works if the printer puts a field where
the form expects it, and every printer's paper feed is off by a millimetre or
two.  The sheet prints crosses that *should* sit 20 mm from the left and top
edges of the paper (after the current offsets); the technician measures where
they really are, and the new offset is the old one plus the difference.
The same sheet serves as the licence printer's self-test page.
"""
from __future__ import annotations

import io
import uuid
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

MM = 72 / 25.4
TARGET_MM = 20.0                 # where each cross's centre belongs, from the paper edges
OFFSET_LIMIT_MM = 15.0           # more than this is a wrong measurement, not a feed error


class CalibrationError(ValueError):
    """A measurement that cannot be right; one line for the technician."""


def calibration_sheet(offset_mm: tuple[float, float], kiosk_id: str = "", now: datetime | None = None) -> bytes:
    """A4 PDF: four crosses at TARGET_MM from the edges, shifted by the current offsets."""
    page_w, page_h = A4
    ox, oy = offset_mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
    pdf.setTitle("Licence printer calibration")
    pdf.setLineWidth(0.3)
    for x_mm, y_mm in ((TARGET_MM, TARGET_MM), (210 - TARGET_MM, TARGET_MM),
                       (TARGET_MM, 297 - TARGET_MM), (210 - TARGET_MM, 297 - TARGET_MM)):
        # Offsets move everything right (x) and down (y), as in the licence templates.
        cx, cy = (x_mm + ox) * MM, page_h - (y_mm + oy) * MM
        pdf.line(cx - 8 * MM, cy, cx + 8 * MM, cy)
        pdf.line(cx, cy - 8 * MM, cx, cy + 8 * MM)
        pdf.circle(cx, cy, 2 * MM)
    # A millimetre ruler along the top-left cross helps to read the distance.
    x0, y0 = (TARGET_MM + ox) * MM, page_h - (TARGET_MM + oy) * MM
    for i in range(0, 31):
        tick = (3 if i % 10 == 0 else 1.5 if i % 5 == 0 else 0.8) * MM
        pdf.line(x0 + 12 * MM + i * MM, y0, x0 + 12 * MM + i * MM, y0 - tick)
    pdf.setFont("Helvetica", 10)
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    lines = [
        "Licence printer calibration / self-test page",
        f"kiosk {kiosk_id}   printed {stamp}   current offsets x={ox:+.1f} mm, y={oy:+.1f} mm",
        f"Measure from the LEFT and TOP paper edges to the centre of the top-left cross: both should be {TARGET_MM:.0f} mm.",
        "Enter the two measurements in maintenance mode; the kiosk computes the new offsets.",
        f"sheet {uuid.uuid4().hex[:8]}",
    ]
    for n, text in enumerate(lines):
        pdf.drawString(40 * MM, page_h - (110 + 7 * n) * MM, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def corrected_offsets(current: tuple[float, float], measured_left_mm: float,
                      measured_top_mm: float) -> tuple[float, float]:
    """New (x, y) offsets from where the top-left cross was measured."""
    for name, value in (("left", measured_left_mm), ("top", measured_top_mm)):
        if not 0 < value < 60:
            raise CalibrationError(f"{name} distance {value} mm is not plausible (the cross is near {TARGET_MM:.0f} mm)")
    new = (round(current[0] + TARGET_MM - measured_left_mm, 1), round(current[1] + TARGET_MM - measured_top_mm, 1))
    if any(abs(v) > OFFSET_LIMIT_MM for v in new):
        raise CalibrationError(f"offsets {new[0]:+.1f}/{new[1]:+.1f} mm exceed ±{OFFSET_LIMIT_MM:.0f} mm: "
                               "measure again from the paper edge")
    return new


def print_sheet(printer, kiosk_id: str = "", timeout: float = 120.0) -> str:
    """Send the sheet through the licence printer's backend (not the exactly-once
    journal: a test page has no print token); blocking -- call from a worker thread.
    Returns the job reference; raises the backend's PrinterError."""
    pdf = calibration_sheet(printer.offset_mm, kiosk_id)
    token = f"calibration-{uuid.uuid4().hex}"
    job = printer.backend.submit(pdf, "calibration", token)
    printer.backend.wait(job, timeout)
    return job
