"""The data contract, as far as splitting a transform input goes: one home for its two rules.

Issue 21 defines the data contract (header detection, ``label_column``, missing values); until it
lands, this module states today's rules, and the splitter asks only this module, so following
the contract later changes this file alone.

- **The label.** The sample's input has the label first; ``transform_input_filter`` ``$[1:]``
  drops it from every record before the model sees it, on AWS (``DataProcessing.InputFilter``)
  and locally alike. A split cuts between records and keeps every column, so each part's records
  are filtered exactly as the whole input's would be: the label needs nothing from the split.
- **A header.** SageMaker's batch transform has no notion of a CSV header: with
  ``SplitType=Line`` every line is a record, filtered and sent to the model. Repeating a header
  in every part would send the model N header "records" instead of one; so a header is kept out
  of the parts (held back, never sent) and the joined output has one line per record. Today's
  contract has no header (``invoke data`` writes label-first rows without one, and training reads
  none), so :meth:`InputContract.current` says ``header=False``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class InputContract:
    header: bool = False  # the input's first line names the columns; it is no record

    @classmethod
    def current(cls) -> InputContract:
        """What today's data contract says of every transform input (issue 21 will read it from the data)."""
        return cls(header=False)

    def header_length(self, head: bytes) -> int | None:
        """Bytes of ``head`` (the input's start) the header takes, newline included; 0 without a
        header; ``None`` when ``head`` does not yet hold the header's whole line."""
        if not self.header:
            return 0
        end = head.find(b"\n")
        return None if end < 0 else end + 1
