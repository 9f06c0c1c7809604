"""Render every kind of lossgap report in headless Chromium and fail on a console error.

``make report-check`` runs this. It

1. finds Chromium, installing Debian's ``chromium`` package with apt-get when it is missing;
2. makes one report of each kind through the command line, from inputs whose column
   names, ids, class and model names are hostile strings (``<script>alert(1)</script>``):
   explain (binary and multiclass), compare, history, lab (when the command exists), the
   demo, and a notebook fragment (``_repr_html_``);
3. loads each page in headless Chromium with every host name unresolvable (so any network
   request fails loudly), collects the browser console, and takes screenshots: the page on
   a wide screen (1400 px) and on a phone (420 px), each cut into tiles 1000 px high, and a
   print preview (the print styles on an A4-wide page), plus a PDF as printing makes it;
4. measures, at 1400 and at 420 px, every element that reaches past the window's right
   edge (outside a horizontally scrolling box), with a copy of the page that carries a
   measuring script (the page itself never has one);
5. fails (exit 1) when a page logs anything to the console, when something overflows the
   window at either width, when a page is missing a plot, or when Chromium fails. A canary
   page that logs on purpose must be caught first, so a Chromium that stopped reporting its
   console cannot pass the check silently.

Look at the screenshots (``build/report-check/screens/*.png``) before calling a report done.

Usage: ``python tools/report_check.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOSTILE = "<script>alert(1)</script>"
WIDTHS, TILE = (1400, 420), 1000
PRINT_WIDTH = 794  # A4 at 96 dpi
PAGE_HEIGHT = 16000
TIMEOUT = 120  # seconds per browser run; the machines that run this may be busy
ATTEMPTS = 3  # runs of a page before a hang fails the check
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium writes page console messages to its log as "...:CONSOLE(line)] "message", source: ..."
CONSOLE = re.compile(r"CONSOLE(?:\(\d+\))?\]?\s*(.*)")


def find_browser() -> str:
    """The Chromium binary, installed with apt-get when there is none."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    print("report-check: Chromium not found; installing Debian's chromium with apt-get")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*apt, "update", "-qq"], check=True, env=env)
    subprocess.run([*apt, "install", "-y", "-qq", "chromium"], check=True, env=env)
    found = shutil.which("chromium")
    if not found:
        sys.exit("report-check: apt-get installed chromium but it is not on PATH")
    return found


def lossgap(*args: str) -> None:
    """Run the lossgap command line; any failure stops the check."""
    command = [str(BIN / "lossgap"), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"report-check: {' '.join(command)} failed ({done.returncode}): {done.stderr}")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_inputs(folder: Path) -> dict[str, Path]:
    """Prediction files whose ids, column and class names are hostile strings."""
    rng = np.random.default_rng(7)
    n = 600
    truth = rng.beta(0.8, 0.8, n)
    y = (rng.random(n) < truth).astype(int)
    sharp = 1 / (1 + np.exp(-3 * np.log(truth / (1 - truth))))  # overconfident model
    soft = np.clip(truth + rng.normal(0, 0.08, n), 0.01, 0.99)
    classes = np.array([HOSTILE, "malignant <b>"])  # sorted: the second is the positive class
    ids = [f"{HOSTILE}-{i}" if i % 9 == 0 else f"s{i}" for i in range(n)]
    binary = write_csv(
        folder / "binary.csv",
        [f"id {HOSTILE}", "label", f"p {HOSTILE}", "model <i>b</i>"],
        [[ids[i], classes[y[i]], sharp[i], soft[i]] for i in range(n)],
    )
    k = 4
    prob = rng.dirichlet(np.full(k, 0.5), n)
    labels = np.array([rng.choice(k, p=row) for row in prob])
    names = [f"class{j} {HOSTILE}" if j == 0 else f"class{j}" for j in range(k)]
    multi = write_csv(
        folder / "multiclass.csv",
        ["id", "label", *[f"p_{c}" for c in names]],
        [[ids[i], names[labels[i]], *prob[i]] for i in range(n)],
    )
    epochs = 60
    log_rows = []
    for e in range(epochs):
        val_loss = 0.35 + (e - 12) ** 2 / 1500 + rng.normal(0, 0.005)
        val_acc = 0.80 + 0.12 * (1 - np.exp(-e / 15)) + rng.normal(0, 0.004)
        log_rows.append([e, 0.9 - e / 80, 0.6 + e / 200, val_acc, val_loss])
    log = write_csv(
        folder / "training <img src=x onerror=alert(1)>.log",
        ["epoch", "loss", "accuracy", "val_accuracy", "val_loss"],
        log_rows,
    )
    return {"binary": binary, "multiclass": multi, "log": log}


def make_reports(folder: Path) -> dict[str, Path]:
    """One report of each kind, through the command line."""
    inputs = make_inputs(folder)
    pages = {}
    binary = str(inputs["binary"])
    pages["explain-binary"] = folder / "explain-binary.html"
    lossgap("explain", binary, "--label", "label", "--prob", f"p {HOSTILE}", "--id",
            f"id {HOSTILE}", "--html", str(pages["explain-binary"]), "--md",
            str(folder / "explain-binary.md"), "--plot", str(folder / "plots"), "--quiet")
    pages["explain-multiclass"] = folder / "explain-multiclass.html"
    lossgap("explain", str(inputs["multiclass"]), "--label", "label", "--prob", "p_*", "--id",
            "id", "--html", str(pages["explain-multiclass"]), "--quiet")
    pages["compare"] = folder / "compare.html"
    lossgap("compare", binary, "--label", "label", "--prob", f"p {HOSTILE}", "--prob",
            "model <i>b</i>", "--id", f"id {HOSTILE}", "--html", str(pages["compare"]),
            "--quiet")
    pages["history"] = folder / "history.html"
    lossgap("history", str(inputs["log"]), "--html", str(pages["history"]), "--quiet")
    if (ROOT / "src" / "lossgap" / "cli" / "lab.py").exists():
        pages["lab"] = folder / "lab.html"
        lossgap("lab", "logistic", "--illustration", "1", "--html", str(pages["lab"]))
    pages["demo"] = folder / "demo.html"
    lossgap("demo", "--out", str(folder / "demo"), "--html", str(pages["demo"]), "--quiet")
    pages["notebook"] = folder / "notebook.html"
    fragment = subprocess.run(
        [sys.executable, "-c",
         "import sys, lossgap; from lossgap.io import read_predictions;"
         "from lossgap.explanation import evaluate_predictions;"
         f"p = read_predictions(sys.argv[1], label='label', prob=['p {HOSTILE}']);"
         "sys.stdout.write(evaluate_predictions(p)._repr_html_())", binary],
        capture_output=True, text=True, check=True,
    ).stdout
    pages["notebook"].write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>notebook</title></head>"
        f"<body style='margin:0;background:#fff'><div>{fragment}</div>"
        "</body></html>",
        encoding="utf-8",
    )
    return pages


def browse(browser: str, page: Path, *args: str) -> list[str]:
    """Run headless Chromium on ``page``; return the console messages it logged."""
    returncode, _, stderr = run_browser(browser, page, *args)
    if returncode != 0:
        sys.exit(f"report-check: Chromium failed on {page.name}: {stderr[-2000:]}")
    return [m.group(1) for line in stderr.splitlines() if (m := CONSOLE.search(line))]


def run_browser(browser: str, page: Path, *args: str) -> tuple[int, str, str]:
    """Headless Chromium on ``page``: its exit code, stdout and stderr.

    A page renders in about a second; headless Chromium now and then hangs with a virtual
    time budget (seen on two different pages, each rendering in 0.8 s when run again), so
    a run that takes over :data:`TIMEOUT` is stopped and tried afresh, up to
    :data:`ATTEMPTS` times."""
    for attempt in range(1, ATTEMPTS + 1):
        finished = _browse_once(browser, page, *args)
        if finished is not None:
            return finished
        print(f"report-check: Chromium took over {TIMEOUT} s on {page.name} "
              f"(attempt {attempt} of {ATTEMPTS})", file=sys.stderr)
    sys.exit(f"report-check: Chromium took over {TIMEOUT} s on {page.name}, {ATTEMPTS} times")


def _browse_once(browser: str, page: Path, *args: str) -> tuple[int, str, str] | None:
    """One headless Chromium run: its exit code, stdout and stderr, or None when it hung."""
    profile = tempfile.mkdtemp(prefix="report-check-")
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", "--enable-logging=stderr", "--v=0",
        f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
        "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000",
        *args, page.resolve().as_uri(),
    ]
    # its own session, so a hung browser is stopped with every process it started
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return process.returncode, stdout, stderr


def tiles(shot: Path, prefix: Path, width: int) -> list[Path]:
    """Cut a tall screenshot (trailing blank rows dropped) into viewable tiles."""
    image = Image.open(shot).convert("RGB")
    pixels = np.asarray(image)
    rows = np.flatnonzero((pixels < 250).any(axis=(1, 2)))
    bottom = int(rows[-1]) + 40 if len(rows) else TILE
    image = image.crop((0, 0, width, min(bottom, image.height)))
    out = []
    for i, top in enumerate(range(0, image.height, TILE)):
        path = prefix.with_name(f"{prefix.name}-{i + 1:02d}.png")
        image.crop((0, top, width, min(top + TILE, image.height))).save(path)
        out.append(path)
    shot.unlink()
    return out


def print_preview(page: Path) -> Path:
    """The page with its print styles applied on screen (what paper gets, minus margins)."""
    html = page.read_text(encoding="utf-8").replace("@media print {", "@media all {")
    preview = page.with_name(f"{page.stem}.print-preview.html")
    preview.write_text(html, encoding="utf-8")
    return preview


#: Lists (in the page's title, which --dump-dom prints) the elements whose right edge passes
#: the window's, outside boxes that scroll sideways on purpose.
PROBE = """<script>
addEventListener("load", () => {
  const over = [];
  for (const el of document.querySelectorAll("main *")) {
    if (el.closest(".scroll") || el.closest("details:not([open])")) continue;
    const box = el.getBoundingClientRect();
    if (box.width && box.right > innerWidth + 1) {
      const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
      over.push(name + " to " + Math.round(box.right) + "px");
    }
  }
  document.title = "OVERFLOW:" + over.slice(0, 5).join("; ") + ":END";
});
</script>"""


def overflow(browser: str, page: Path, width: int) -> str:
    """What reaches past the right edge of a ``width``-pixel window ("" when nothing)."""
    probe = page.with_name(f"{page.stem}.probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</main>", PROBE + "</main>"),
                     encoding="utf-8")
    try:
        _, dom, _ = run_browser(browser, probe, f"--window-size={width},1000", "--dump-dom")
    finally:
        probe.unlink()
    found = re.search(r"OVERFLOW:(.*?):END", dom)
    if found is None:
        return "the measuring script did not run"
    return found.group(1)


def check_page(browser: str, name: str, page: Path, screens: Path) -> list[str]:
    """Screenshots and console of one report; the problems found."""
    html = page.read_text(encoding="utf-8")
    problems = []
    if name != "notebook" and ("<script" in html.lower() or HOSTILE in html):
        problems.append(f"{name}: an unescaped <script> in the page")
    if "<img " in html and 'src="http' in html:
        problems.append(f"{name}: an image loaded from the network")
    for width in WIDTHS:
        shot = screens / f"{name}-{width}.png"
        messages = browse(browser, page, f"--screenshot={shot}",
                          f"--window-size={width},{PAGE_HEIGHT}")
        problems += [f"{name}: console: {m}" for m in messages]
        tiles(shot, screens / f"{name}-{width}", width)
        if over := overflow(browser, page, width):
            problems.append(f"{name}: past the right edge at {width} px: {over}")
    preview = print_preview(page)
    browse(browser, preview, f"--screenshot={screens / (name + '-print.png')}",
           f"--window-size={PRINT_WIDTH},{PAGE_HEIGHT}")
    tiles(screens / f"{name}-print.png", screens / f"{name}-print", PRINT_WIDTH)
    preview.unlink()
    browse(browser, page, f"--print-to-pdf={page.with_suffix('.pdf')}",
           "--no-pdf-header-footer")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "report-check")
    args = parser.parse_args()
    browser = find_browser()
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    screens = out / "screens"
    screens.mkdir(parents=True)
    canary = out / "canary.html"
    canary.write_text("<!DOCTYPE html><title>canary</title>"
                      "<script>console.error('report-check canary')</script>", encoding="utf-8")
    if not any("report-check canary" in m for m in browse(browser, canary)):
        sys.exit("report-check: Chromium did not report the canary's console error; "
                 "the console check would be blind")
    problems = []
    for name, page in make_reports(out).items():
        problems += check_page(browser, name, page, screens)
        print(f"report-check: {name}: {page}")
    print(f"report-check: screenshots in {screens} - look at them")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("report-check: every report rendered with no console message")


if __name__ == "__main__":
    main()
