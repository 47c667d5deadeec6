"""Local data capture: the endpoint's router writes SageMaker's capture records, outside the container.

SageMaker captures in its front end, not in the model server, and so does this: the router's
front nginx (its njs module, ``capture.js``) samples requests with ``split_clients`` on the
random request id, copies the response body of a sampled request as it streams to the client,
and after the response logs one JSON line per request through nginx's own access log, under
``<capture root>/<endpoint>/<variant>/yyyy/mm/dd/hh/capture.jsonl`` (UTC) — the layout and the
record format SageMaker writes to S3 (``captureData.endpointInput/endpointOutput`` with
``observedContentType``, ``mode``, ``data``, ``encoding``; ``eventMetadata`` with ``eventId`` and
``inferenceTime``; ``eventVersion``). Content types SageMaker is told to keep as text
(:data:`~ml.backends.sagemaker.capture.CSV_CONTENT_TYPES` and ``JSON_CONTENT_TYPES``) are
``CSV``/``JSON``; any other body is ``BASE64``.

The record is written after the response has gone, and a failed write is logged by nginx, so
capture can cost a request neither its answer nor its latency; its throughput cost is in
docs/monitoring.md.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ml.backends.sagemaker.capture import CSV_CONTENT_TYPES, JSON_CONTENT_TYPES
from ml.errors import ByocError

SCRIPT = Path(__file__).with_name("capture.js")
JS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
# A body larger than this is spilled by nginx to a temp file and not captured (SageMaker's own
# real-time payload limit is 6 MB, so nothing it would capture is left out).
BODY_BUFFER = "6m"
FILE_NAME = "capture.jsonl"
CAPTURING = "/__byoc/capture/invocations"


def js_module() -> Path:
    if not JS_MODULE.exists():
        raise ByocError(
            f"data capture needs nginx's njs module ({JS_MODULE}); install it (Debian: `apt-get install libnginx-mod-http-js`) "
            "or set capture_enabled to false"
        )
    return JS_MODULE


def _encoding_map(variable: str, name: str) -> str:
    def alternatives(types: tuple[str, ...]) -> str:
        return "|".join(re.escape(t) for t in types)

    return f"""  map ${variable} ${name} {{
    "~*^({alternatives(CSV_CONTENT_TYPES)})\\s*(;|$)" CSV;
    "~*^({alternatives(JSON_CONTENT_TYPES)})\\s*(;|$)" JSON;
    default BASE64;
  }}"""


@dataclass(frozen=True, kw_only=True)
class CaptureConf:
    """Where and how much one endpoint's router captures."""

    root: Path  # <capture root>/<endpoint>: the variant's hourly folders go below it
    variant: str  # the variant's name in the path, as SageMaker names it (AllTraffic)
    sampling_percent: int  # 1-100, per request

    def __post_init__(self) -> None:
        if not 1 <= self.sampling_percent <= 100:
            raise ByocError(f"capture sampling percent must be 1-100, not {self.sampling_percent}")
        if "/" in self.variant or not self.variant:
            raise ByocError(f"capture variant name {self.variant!r} must be one path segment")

    def main_lines(self) -> str:
        return f"load_module {js_module()};\n"

    def http_lines(self) -> str:
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            raise ByocError("nginx is not installed; the local endpoint routes through it")
        return f"""  js_path {SCRIPT.parent};
  js_import byoc_capture from {SCRIPT.name};
  split_clients "${{request_id}}" $byoc_sampled {{
    {self.sampling_percent}% "1";
    * "";
  }}
  js_var $byoc_capture_root {self.root};
  js_var $byoc_capture_variant {self.variant};
  js_set $byoc_capture_dir byoc_capture.hourDir;
  js_set $byoc_capture byoc_capture.record;
{_encoding_map("content_type", "byoc_capture_in_encoding")}
{_encoding_map("sent_http_content_type", "byoc_capture_out_encoding")}
  log_format byoc_capture escape=none '$byoc_capture';
  open_log_file_cache max=64 inactive=2m valid=1m;
"""

    def server_lines(self) -> str:
        # nginx checks that ``root`` exists before it opens a log file whose path has variables.
        return f"    root {self.root};\n"

    def divert_lines(self) -> str:
        # Only a sampled request goes through the capturing location: the others never start
        # njs, so capture costs in proportion to the sampling percentage.
        return f"      if ($byoc_sampled) {{ rewrite ^ {CAPTURING} last; }}\n"

    def location(self, proxy: str) -> str:
        """The internal location a sampled /invocations runs in: the same proxying, plus capture."""
        return f"""    location = {CAPTURING} {{
      internal;
      client_body_buffer_size {BODY_BUFFER};
      js_body_filter byoc_capture.collect buffer_type=buffer;
      access_log {self.root}/$byoc_capture_dir/{FILE_NAME} byoc_capture if=$byoc_capture;
{proxy.replace("proxy_pass http://byoc_back;", "proxy_pass http://byoc_back/invocations;")}    }}
"""
