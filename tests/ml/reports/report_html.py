"""Reading a report back: the cells of each table row that carries an ``id``, and the images."""

from __future__ import annotations

from html.parser import HTMLParser


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.images: list[str] = []
        self.ids: dict[str, str] = {}
        self._row: str | None = None
        self._in_cell = False
        self._text_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("id"):
            self._row = str(found["id"])
            self.rows[self._row] = []
        elif tag in ("td", "th") and self._row is not None:
            self._in_cell = True
            self.rows[self._row].append("")
        elif tag == "img":
            self.images.append(str(found.get("src")))
        elif found.get("id"):
            self._text_id = str(found["id"])
            self.ids[self._text_id] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        elif tag in ("td", "th"):
            self._in_cell = False
        elif self._text_id is not None and tag in ("span", "p"):
            self._text_id = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._in_cell:
            self.rows[self._row][-1] += data
        elif self._text_id is not None:
            self.ids[self._text_id] += data


def parse(html: str) -> _Rows:
    parser = _Rows()
    parser.feed(html)
    parser.close()
    return parser
