"""Rendering: the report model to HTML (Jinja), PDF (WeasyPrint) and JSON, written atomically.

The rendering boundary: every template autoescapes whatever its name, undefined
names are errors, and WeasyPrint's URL fetcher refuses every fetch, so nothing
a CSV cell or a template says can make the renderer read a file or call a URL.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from ..agenda import MAX_COVER_ACTIONS, MAX_ISSUES_SHOWN, Report
from ..errors import RenderError
from ..formatting import fmt_change, fmt_count, fmt_target, fmt_value

log = logging.getLogger(__name__)


def packaged_template_dir() -> Path:
    """The default templates: inside the installed wheel, or templates/ of a source checkout."""
    inside = Path(str(resources.files("cxtruth"))) / "templates"
    if inside.is_dir():
        return inside
    # Editable installs and a plain checkout keep them at the top of the repository.
    return Path(__file__).resolve().parents[2] / "templates"


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    """Templates from ``template_dir`` first, then the packaged ones (also as ``cxtruth/<name>``,
    so a user template can extend the packaged report and replace one block).

    Every template runs in Jinja's immutable sandbox: a user's template can read
    the report but not reach Python internals, the file system or the network.
    """
    packaged = jinja2.FileSystemLoader(packaged_template_dir())
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(template_dir)] if template_dir else []
    loaders += [jinja2.PrefixLoader({"cxtruth": packaged}), packaged]
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,  # for every template, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(value=fmt_value, change=fmt_change, count=fmt_count, target=fmt_target)
    return env


def render_html(report: Report, charts: bool = True, template_dir: Path | None = None) -> str:
    """The report as one self-contained HTML document (CSS and SVG charts inline)."""
    from .charts import trend_svg  # matplotlib is imported only when a chart is drawn

    env = environment(template_dir)
    chart_svgs = {m.key: Markup(trend_svg(m, {r.month for r in report.restated.get(m.key, [])}))
                  for m in report.metrics} if charts else {}
    try:
        css = env.loader.get_source(env, "report.css")[0]
        return env.get_template("report.html.j2").render(
            report=report, css=Markup(css), charts=chart_svgs, max_issues=MAX_ISSUES_SHOWN,
            max_cover_actions=MAX_COVER_ACTIONS)
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}, line {exc.lineno}"
        raise RenderError(f"template {where}: {exc.message}", hint=_TEMPLATE_HINT) from None
    except SecurityError as exc:
        raise RenderError(f"template {_template_frame(exc)}: refused by the sandbox: {exc}",
                          hint=_TEMPLATE_HINT) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template not found: {exc.name}", hint=_TEMPLATE_HINT) from None
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError,
            ZeroDivisionError) as exc:
        # A user's template may fail like any program; say where, not how Python saw it.
        raise RenderError(f"template {_template_frame(exc)}: {exc}", hint=_TEMPLATE_HINT) from None


_TEMPLATE_HINT = "fix the template, or remove [report] template_dir to use the packaged one"


def _template_frame(exc: BaseException) -> str:
    """'<file>, line <n>' of the innermost template frame of ``exc``'s traceback."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".j2", ".html", ".css")):
            return f"{frame.filename}, line {frame.lineno}"
    return "report.html.j2"


class _Expired(BaseException):
    """Raised by the alarm; a BaseException so library code's ``except Exception`` cannot swallow it."""


@contextmanager
def time_limit(seconds: float, what: str):
    """Raise RenderError if the block runs longer than ``seconds``.

    SIGALRM interrupts pure-Python work such as WeasyPrint's layout; outside the
    main thread (an embedding application) no limit is applied. An exception
    raised while Python runs a weakref callback or a ``__del__`` is discarded,
    so the alarm repeats every 50 ms until one lands in ordinary code.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    armed, timed_out = True, False

    def expired(signum, frame):
        if armed:
            raise _Expired()

    def unraisable(info, default=sys.unraisablehook):
        if not isinstance(info.exc_value, _Expired):  # a discarded alarm is expected, not news
            default(info)

    previous, previous_hook = signal.signal(signal.SIGALRM, expired), sys.unraisablehook
    sys.unraisablehook = unraisable
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        try:
            yield
        except _Expired:
            timed_out = True
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:  # a repeat that arrived between the two handlers above
        timed_out = True
    finally:
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook = previous_hook
    if timed_out:
        raise RenderError(f"{what} took longer than {seconds:g} s; nothing was written",
                          hint="raise [report] render_timeout_seconds, or look for huge input text")


def refusing_fetcher():
    """A WeasyPrint URL fetcher that refuses everything: the HTML is self-contained."""
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class RefuseAll(URLFetcher):
        def fetch(self, url, headers=None):
            raise FatalURLFetchingError(f"refused to fetch {url[:80]!r}: reports fetch nothing")

    return RefuseAll()


def render_pdf(html: str) -> bytes:
    """PDF bytes from self-contained HTML; any attempt to fetch a resource fails the render."""
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    fetcher = refusing_fetcher()
    try:
        document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher)
        return document.write_pdf(uncompressed_pdf=False)
    except FatalURLFetchingError as exc:
        raise RenderError(f"the report tried to load an outside resource ({exc}); nothing was written")


