"""The failover as a picture: a self-contained SVG (pure: figures in, text out).

One panel per mode: per second, the new requests answered (green) and failed (red), a band
under the bars coloured by the director the VIP pointed at (what the client's ARP heard), and
dashed lines at the master's death and its return.
"""

from __future__ import annotations

from html import escape

from ipvsctl.lab.ha_figures import BUCKET, ModeFigures

W, PANEL, PAD, BAND = 900, 200, 48, 10
COLOURS = ("#2a6fdb", "#e08a00", "#7a3fb8", "#888888")
OK, BAD = "#2e9d3a", "#d3312f"


def svg(title: str, modes: list[ModeFigures], down_for: float, directors: list[str]) -> str:
    colour = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(directors)}
    height = len(modes) * PANEL + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
           f'viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="#fff"/>',
           f'<text x="{PAD}" y="18" font-size="14">{escape(title)}</text>']
    for i, mode in enumerate(modes):
        out += _panel(mode, 30 + i * PANEL, down_for, colour)
    y = 30 + len(modes) * PANEL
    legend = [(OK, "new requests answered"), (BAD, "failed")]
    legend += [(c, f"VIP at {n}") for n, c in colour.items()]
    x = PAD
    for c, label in legend:
        out.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{x + 14}" y="{y + 9}">{escape(label)}</text>')
        x += 24 + 7 * len(label)
    out.append(f'<text x="{PAD}" y="{y + 26}">bars: requests per {BUCKET:g} s, time in s '
               'from the master\'s death</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _panel(mode: ModeFigures, y0: int, down_for: float, colour: dict[str, str]) -> list[str]:
    rows = mode.timeline
    failover = (f"{mode.failover_seconds:.2f} s" if mode.failover_seconds is not None
                else "never")
    head = (f"sync {'on' if mode.sync else 'off'}: failover {failover}, "
            f"{mode.failed_in_failover} new requests failed, connections survived "
            f"{mode.survived}/{mode.established}, split brain {mode.split_brain_converged} "
            f"(+{mode.split_brain - mode.split_brain_converged} within takeovers)")
    out = [f'<text x="{PAD}" y="{y0 + 12}" font-size="12">{escape(head)}</text>']
    if not rows:
        return out
    t0, t1 = float(rows[0]["t"]), float(rows[-1]["t"]) + BUCKET
    span = max(t1 - t0, 1e-9)
    plot_w, plot_h = W - 2 * PAD, PANEL - 70
    top = max(max(r["answered"] + r["failed"] for r in rows), 1)
    base = y0 + 20 + plot_h

    def x(t: float) -> float:
        return PAD + (t - t0) / span * plot_w

    bar = plot_w / len(rows)
    for r in rows:
        left = x(r["t"])
        ok_h = r["answered"] / top * plot_h
        bad_h = r["failed"] / top * plot_h
        if ok_h:
            out.append(f'<rect x="{left:.1f}" y="{base - ok_h:.1f}" width="{bar * 0.85:.1f}" '
                       f'height="{ok_h:.1f}" fill="{OK}"/>')
        if bad_h:
            out.append(f'<rect x="{left:.1f}" y="{base - ok_h - bad_h:.1f}" '
                       f'width="{bar * 0.85:.1f}" height="{bad_h:.1f}" fill="{BAD}"/>')
        who = r["director"]
        if who is not None:
            out.append(f'<rect x="{left:.1f}" y="{base + 3}" width="{bar:.1f}" '
                       f'height="{BAND}" fill="{colour.get(who, "#ccc")}"/>')
    out.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{base}" y2="{base}" stroke="#000"/>')
    out.append(f'<text x="{PAD - 6}" y="{base - plot_h + 4}" text-anchor="end">{top}</text>')
    for at, label in ((0.0, "master dies"), (down_for, "master back")):
        if label == "master back" and mode.return_seconds is None:
            continue  # this mode ended without the master's return
        if t0 <= at <= t1:
            out.append(f'<line x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{y0 + 18}" '
                       f'y2="{base + BAND + 3}" stroke="#000" stroke-dasharray="4 3"/>'
                       f'<text x="{x(at) + 3:.1f}" y="{y0 + 28}">{label}</text>')
    step = 10 if span > 40 else 5
    tick = int(t0 // step) * step
    while tick <= t1:
        if tick >= t0:
            out.append(f'<text x="{x(tick):.1f}" y="{base + BAND + 16}" '
                       f'text-anchor="middle">{tick:+d}</text>')
        tick += step
    return out
