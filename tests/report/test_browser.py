"""The interactive pruning curves in a real headless Chromium, opened from a file:// URL
with no server: the page must run without a JavaScript error and draw, for every model,
task and target language a reader can choose, exactly the curves and points the static
figures draw (curves.curve_sets). Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe), so nothing but the system browser is needed.

Skipped only where no Chromium binary exists (Debian: apt-get install -y chromium)."""

import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from xlprune.report import interactive, page
from xlprune.report.collect import collect, tidy_rows
from xlprune.report.curves import curve_sets
from xlprune.report.series import Series

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# a target language whose name tries to end the data's <script> and run its own
HOSTILE = "x</script><script>window.__pwned=1</script><!--"


def browser_binary() -> str | None:
    named = os.environ.get("XLPRUNE_CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.access(named, os.X_OK) else None)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


BINARY = browser_binary()
# CI installs the browser and sets XLPRUNE_REQUIRE_BROWSER: there a missing one fails
needs_browser = pytest.mark.skipif(
    BINARY is None and not os.environ.get("XLPRUNE_REQUIRE_BROWSER"),
    reason="no Chromium binary on this machine (install it: apt-get install -y chromium)",
)


# ---------------------------------------------------------------- a small, real sweep


def score(*parts) -> float:
    """A stable score in (0.3, 0.95) for a job's fields."""
    h = sum((i + 1) * ord(ch) for i, ch in enumerate("|".join(map(str, parts))))
    return round(0.3 + (h % 6500) / 10000, 4)


def result(model, task, setting, source, targets, k, seed=1, method="gradient", **extra):
    metric = "accuracy" if task == "pos" else "f1"
    langs = list(dict.fromkeys([*source, *targets]))
    ranking = None
    if k or extra.get("mask_curve"):
        ranking = {"method": method, "sources": source, "stored": [], "computed": 1}
        if len(source) > 1:
            ranking["combine"] = "mean"
    data = {
        "model": model,
        "task": task,
        "setting": setting,
        "data": "hand",
        "source": source,
        "targets": targets,
        "seed": seed,
        "prune_count": k,
        "pruned_heads": [[0, h] for h in range(k)],
        "num_heads_total": 12,
        "ranking": ranking,
        "metric": metric,
        "metrics": {
            split: {
                g: {metric: score(model, task, setting, source, g, k, seed, method, split)}
                for g in langs
            }
            for split in ("dev", "test")
        },
        "timing": {},
        "versions": {},
    }
    data.update(extra)
    return data


def mask_curve(source, targets, max_k):
    return [
        {"k": k, "metrics": {g: {"accuracy": score("mask", source, g, k)} for g in targets}}
        for k in range(max_k + 1)
    ]


def sweep_results() -> list[dict]:
    """Two contexts; settings cross and multi; sources en, de and en+de (merged); two seeds
    on one line (a spread to show); a random-ranking control; a masked curve; and a
    target language named to break out of the page's script; the same model and task on
    other data."""
    pos = ("tiny_bert", "pos")
    targets = ["es", HOSTILE]
    jobs = []
    for setting in ("cross", "multi"):
        for source in (["en"], ["de"]):
            for k in (0, 2, 4):
                jobs.append(result(*pos, setting, source, targets, k))
    jobs += [result(*pos, "cross", ["en"], targets, k, seed=2) for k in (0, 2, 4)]
    jobs += [result(*pos, "cross", ["en", "de"], targets, k) for k in (0, 2)]
    jobs.append(result(*pos, "cross", ["en"], targets, 2, method="random"))
    jobs.append(
        result(*pos, "cross", ["en"], targets, 0, mask_curve=mask_curve(["en"], targets, 5))
    )
    # the same model and task on other data: a third context, picked by its own control
    jobs += [result(*pos, "cross", ["en"], ["es"], k, data="other") for k in (0, 2)]
    ner = ("tiny_xlmr", "ner")
    jobs += [result(*ner, "cross", ["en"], ["hi", "es"], k) for k in (0, 3)]
    return jobs


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    for num, data in enumerate(sweep_results()):
        folder = root / "sweep" / str(num)
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(data))
    found = collect([root / "sweep"])
    rows = tidy_rows(found.jobs)
    series = Series(rows)
    sets = curve_sets(series)
    fragment = interactive.view(series, sets)
    html = page.render(
        "xlprune interactive test",
        ["A hand-made sweep."],
        [],
        [page.Section("interactive", "Pruning curves, interactive", html=fragment)],
    )
    index = root / "report" / "index.html"
    index.parent.mkdir()
    index.write_text(html, encoding="utf-8")
    return index, sets


# ---------------------------------------------------------------- DevTools over a pipe


def high_fd(fd: int) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies
    and events out), NUL-separated JSON; one page, attached in flat session mode."""

    def __init__(self, binary: str, profile: Path):
        # the ends Chromium gets are moved above 9, clear of the 3 and 4 they become there
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        to_chrome_r, from_chrome_w = (high_fd(to_chrome_r), high_fd(from_chrome_w))
        profile.mkdir(parents=True, exist_ok=True)
        self.log = profile / "chromium.log"
        self._log_file = self.log.open("wb")
        args = [
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1200,900",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            [
                "/bin/bash",  # dash takes one-digit fds only
                "-c",
                f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-',
                binary,
                *args,
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._replies: dict[int, queue.Queue] = {}
        self.events: list[dict] = []
        self._next = 0
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._replies.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    self.events.append(message)

    def send(self, method: str, params: dict | None = None, timeout: float = 15.0) -> dict:
        with self._lock:
            self._next += 1
            ident = self._next
            box = self._replies[ident] = queue.Queue()
        message = {"id": ident, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        try:
            os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
            reply = box.get(timeout=timeout)
        except (OSError, queue.Empty):
            raise AssertionError(
                f"no reply from Chromium to {method} in {timeout}s; its log:\n{self.log_tail()}"
            ) from None
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Page", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for(lambda e: e.get("method") == "Page.loadEventFired", "the page to load")

    def wait_for(self, match, what: str, timeout: float = 15.0) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for event in list(self.events):
                if match(event):
                    return event
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def evaluate(self, expression: str, timeout: float = 20.0):
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error log entries so far."""
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(str(details.get("exception", {}).get("description") or details))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
        return found

    def requests(self) -> list[str]:
        """Every URL the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):  # already gone
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._log_file.close()


@pytest.fixture(scope="module")
def browser(rendered, tmp_path_factory):
    index, _ = rendered
    chrome = Browser(BINARY, tmp_path_factory.mktemp("profile"))
    try:
        chrome.open(index.as_uri())
        yield chrome
    finally:
        chrome.close()


# What a reader does, as page script: pick each model, task, data/variant and target
# in turn through the page's own controls, and read back what the SVG holds.
WALK = r"""
(async () => {
  const root = document.querySelector(".xlp-curves");
  const settle = async () => {
    for (let i = 0; i < 500; i++) {
      const s = root.dataset.status;
      if (s === "ready" || s === "error") return s;
      await new Promise(r => setTimeout(r, 10));
    }
    return "timeout";
  };
  const pick = async (name, value) => {
    const box = root.querySelector(`select[name="${name}"]`);
    if (!box) return false;
    box.value = value;
    box.dispatchEvent(new Event("change", {bubbles: true}));
    return await settle();
  };
  const options = name => {
    const box = root.querySelector(`select[name="${name}"]`);
    return box ? Array.from(box.options, o => o.value) : [null];
  };
  const seen = [];
  const first = await settle();
  for (const model of options("model")) {
    await pick("model", model);
    for (const task of options("task")) {
      await pick("task", task);
      for (const ctx of options("context")) {
        if (ctx !== null) await pick("context", ctx);
        for (const lang of options("lang")) {
          const status = await pick("lang", lang);
          const chart = root.querySelector(".xlp-chart svg");
          const curves = Array.from(root.querySelectorAll(".xlp-chart g.curve > path"));
          seen.push({
            status, model, task, lang, picked: ctx,
            langText: (b => b.options[b.selectedIndex].text)(root.querySelector('select[name="lang"]')),
            selection: JSON.parse(root.dataset.selection),
            drawn: Number(root.dataset.curvesDrawn),
            shown: Number(root.dataset.curvesShown),
            paths: curves.length,
            drawnPaths: curves.filter(p => (p.getAttribute("d") || "").length > 2).length,
            points: root.querySelectorAll(".xlp-chart g.point > path").length,
            references: root.querySelectorAll(".xlp-chart g.unpruned > line").length,
            bands: Number(root.dataset.bandsDrawn),
            bandShapes: Array.from(root.querySelectorAll(".xlp-chart g.band > path, .xlp-chart g.bandbox > path"))
              .filter(p => (p.getAttribute("d") || "").length > 1).length,
            legend: Array.from(root.querySelectorAll(".xlp-chart .role-legend-label text"), t => t.textContent),
            title: Array.from(root.querySelectorAll(".xlp-chart .role-title-text text"), t => t.textContent).join(" "),
            width: chart ? chart.getBoundingClientRect().width : 0,
          });
        }
      }
    }
  }
  return {
    first, seen,
    status: root.dataset.status,
    errors: root.dataset.errors || "",
    total: Number(root.dataset.curvesTotal),
    vega: root.dataset.vega,
    pwned: window.__pwned === undefined ? null : window.__pwned,
    scripts: document.scripts.length,
  };
})()
"""


def expected(sets) -> dict[tuple[str, str], list]:
    """(context title, lang) -> its curves, as the static figures draw them."""
    found: dict = {}
    for s in sets:
        for c in s.curves:
            found.setdefault((s.context.title(), c.lang), []).append(c)
    return found


@needs_browser
def band_shapes(sets, data) -> dict[tuple[str, str], int]:
    """(context title, lang) -> the std shapes its chart needs: one band per curve with
    two neighbouring k that have a std, one short box per k whose neighbours have none."""
    found: dict = {}
    for c in data["curves"]:
        key = (data["contexts"][c["ctx"]]["title"], c["lang"])
        has = [p[3] > 1 for p in c["points"]]
        runs = [len(r) for r in "".join("x" if h else " " for h in has).split()]
        found[key] = found.get(key, 0) + any(r > 1 for r in runs) + runs.count(1)
    return found


def test_every_curve_is_drawn_without_errors(browser, rendered):
    index, sets = rendered
    rows = tidy_rows(collect([index.parent.parent / "sweep"]).jobs)
    want = expected(sets)
    # tiny_bert pos (hand) x {es, HOSTILE}, tiny_bert pos (other) x {es}, tiny_xlmr ner x {hi, es}
    assert len(want) == 5
    bands = band_shapes(sets, interactive.payload(Series(rows), sets))
    assert sum(bands.values()) > 0
    walk = browser.evaluate(WALK)
    assert browser.errors() == []
    assert walk["errors"] == "" and walk["status"] == "ready" and walk["first"] == "ready"
    assert walk["vega"] == interactive.VEGA_VERSION
    assert walk["total"] == sum(len(s.curves) for s in sets)
    assert walk["scripts"] == 3  # the data, the view's script, Vega: none injected
    assert walk["pwned"] is None
    got = {(v["selection"]["context"], v["selection"]["lang"]): v for v in walk["seen"]}
    assert set(got) == set(want)
    assert sum(v["picked"] is not None for v in walk["seen"]) == 3  # tiny_bert pos: 2 + 1 langs
    for key, curves in want.items():
        v = got[key]
        assert v["status"] == "ready", key
        assert v["shown"] == v["drawn"] == v["paths"] == v["drawnPaths"] == len(curves), key
        assert v["points"] == sum(len(c.points) for c in curves), key
        assert v["references"] == sum(0 in dict(c.points) for c in curves), key
        assert v["bands"] == v["bandShapes"] == bands[key], key
        assert v["legend"] == sorted({c.label for c in curves}), key
        assert v["title"] == f"{key[0]}, target {key[1]}"
        assert v["width"] > 300
        assert v["langText"] == key[1]  # the hostile name too: shown as text, never run
    # nothing fetched but the page itself: no server, no network
    assert browser.requests() == [rendered[0].as_uri()]


@needs_browser
def test_hover_shows_the_point_value(browser, rendered):
    """Move the mouse onto a drawn point: the tooltip names a curve and a k, and its
    score is that curve's score at k."""
    _, sets = rendered
    want = expected(sets)
    browser.evaluate(
        r"""(async () => {
          const root = document.querySelector(".xlp-curves");
          const box = root.querySelector('select[name="lang"]');
          box.value = box.options[0].value;
          box.dispatchEvent(new Event("change"));
          for (let i = 0; i < 500 && root.dataset.status !== "ready"; i++)
            await new Promise(r => setTimeout(r, 10));
        })()"""
    )
    browser.evaluate(
        "document.querySelector('.xlp-curves .xlp-chart').scrollIntoView({block: 'center'})"
    )
    where = browser.evaluate(
        r"""(() => {
          const dots = document.querySelectorAll(".xlp-curves .xlp-chart g.point > path");
          const r = dots[Math.floor(dots.length / 2)].getBoundingClientRect();
          return {x: r.left + r.width / 2, y: r.top + r.height / 2,
                  selection: JSON.parse(document.querySelector(".xlp-curves").dataset.selection)};
        })()"""
    )
    for x, y in ((where["x"] - 30, where["y"] - 30), (where["x"], where["y"])):
        browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    tip = browser.evaluate(
        r"""(async () => {
          const tip = document.querySelector(".xlp-curves .xlp-tip");
          for (let i = 0; i < 200 && tip.hidden; i++) await new Promise(r => setTimeout(r, 10));
          return {hidden: tip.hidden,
                  rows: Array.from(tip.querySelectorAll("tr"), tr => Array.from(tr.cells, td => td.textContent))};
        })()"""
    )
    assert not tip["hidden"]
    rows = dict(tip["rows"])
    key = (where["selection"]["context"], where["selection"]["lang"])
    (curve,) = [c for c in want[key] if c.label == rows["curve"]]
    assert rows["target"] == key[1]
    k = int(rows["heads removed"].split()[0])
    value = dict(curve.points)[k]
    (metric,) = [s.metric for s in sets if s.context.title() == key[0]]
    assert rows[interactive.metric_name(metric)] == f"{value:.4f}"
    assert browser.errors() == []


@needs_browser
def test_switching_curves_off_and_on(browser, rendered):
    """Untick a setting: its curves leave the chart; tick it again: they are back."""
    counts = browser.evaluate(
        r"""(async () => {
          const root = document.querySelector(".xlp-curves");
          const settle = async () => { for (let i = 0; i < 500 && root.dataset.status !== "ready"; i++)
            await new Promise(r => setTimeout(r, 10)); };
          const model = root.querySelector('select[name="model"]');
          model.value = "tiny_bert"; model.dispatchEvent(new Event("change")); await settle();
          const count = () => root.querySelectorAll(".xlp-chart g.curve > path").length;
          const before = count();
          const box = root.querySelector('input[name="setting"][value="multi"]');
          box.click(); await settle();
          const without = count(), shown = Number(root.dataset.curvesShown);
          root.querySelector('input[name="setting"][value="multi"]').click(); await settle();
          return {before, without, shown, after: count(),
                  facets: Array.from(root.querySelectorAll("fieldset[data-facet]"), f => f.dataset.facet)};
        })()"""
    )
    assert counts["facets"] == ["setting", "source", "method", "kind", "show"]
    assert 0 < counts["without"] == counts["shown"] < counts["before"] == counts["after"]
    assert browser.errors() == []


@needs_browser
def test_page_renders_on_its_own(rendered, tmp_path):
    """No driver at all: Chromium's --dump-dom after the page's own script has run."""
    index, sets = rendered
    done = subprocess.run(
        [
            BINARY,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            index.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r'<div class="xlp-curves"[^>]*>', done.stdout)
    assert found, done.stderr[-2000:]
    dom = found.group(0)
    assert 'data-status="ready"' in dom, done.stderr[-2000:]
    assert "data-errors" not in dom
    first = sets[0]
    lang = first.langs[0]
    shown = [c for c in first.curves if c.lang == lang]
    assert f'data-curves-drawn="{len(shown)}"' in dom
    assert f'data-curves-total="{sum(len(s.curves) for s in sets)}"' in dom


def test_fragment_escapes_and_inlines(rendered):
    """The HTML itself: three scripts (data, view, Vega) with no src, the data free of any
    '<' so no label can end its element, and an empty view where there is no curve."""
    index, _ = rendered
    text = index.read_text(encoding="utf-8")
    assert len(re.findall(r"<script\b", text)) == 3
    assert text.count("</script>") == 3
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", text)
    data = text.split('<script type="application/json" class="xlp-data">', 1)[1]
    data = data.split("</script>", 1)[0]
    assert "<" not in data and HOSTILE.replace("<", "\\u003c").replace(">", "\\u003e") in data
    assert HOSTILE in json.dumps(json.loads(data), ensure_ascii=False)
    assert interactive.view([]) == ""


def test_payload_fields_and_spread(rendered):
    """Each curve keeps its setting, source and method apart, and the seed spread of the
    line it came from (k=0 of a re-trained curve from the unpruned jobs)."""
    _, sets = rendered
    root = rendered[0].parent.parent
    series = Series(tidy_rows(collect([root / "sweep"]).jobs))
    found = interactive.payload(series, sets)
    assert found["vega"] == interactive.VEGA_VERSION
    pos = [
        c for c in found["curves"] if found["contexts"][c["ctx"]]["title"] == "tiny_bert pos (hand)"
    ]
    assert len(pos) + 3 == len(found["curves"]) == sum(len(s.curves) for s in sets)
    by_label = {(c["label"], c["lang"]): c for c in pos}
    two_seeds = by_label[("cross en re-trained, test", "es")]
    assert (two_seeds["setting"], two_seeds["source"], two_seeds["method"]) == (
        "cross",
        "en",
        "gradient",
    )
    assert [p[0] for p in two_seeds["points"]] == [0, 2, 4]
    assert all(p[3] >= 2 for p in two_seeds["points"])
    assert all(p[2] > 0 for p in two_seeds["points"])
    merged = by_label[("cross en+de mean re-trained, test", "es")]
    assert (merged["source"], merged["method"]) == ("en+de", "gradient (mean)")
    masked = by_label[("cross en masked, dev", HOSTILE)]
    assert masked["masked"] and masked["kind"] == "masked, dev"
    assert [p[0] for p in masked["points"]] == list(range(6))
    assert all(p[3] == 1 for p in masked["points"])


def test_inlined_script_cannot_end_its_element():
    assert interactive.inline_js('a="</script>";b=/<\\/x/;c="</SCRIPT "') == (
        'a="<\\/script>";b=/<\\/x/;c="<\\/SCRIPT "'
    )
    with pytest.raises(ValueError):
        interactive.inline_js("x = '<!--'")
    assert "</script" not in interactive.library().lower()
