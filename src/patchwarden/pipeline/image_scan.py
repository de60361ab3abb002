"""Image scan: read a container image's OS packages and assess their vulnerabilities.

``patchwarden image scan REF`` reads the image (:mod:`patchwarden.adapters.image.reader`:
layers streamed, never unpacked) and then calls :func:`assess_image`, so that a bad
reference is said before a missing database.  The inventory is assessed by
:func:`patchwarden.pipeline.assess.assess` (the matcher and the database ``scan --vulns``
uses) and the findings reported with the image as the resource.  There is no baseline and
no update list: an image is judged on its vulnerabilities only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from patchwarden.core.image import ImageContents
from patchwarden.core.model import Compliance, ComplianceSummary, Operation, PatchState
from patchwarden.core.report import NodeFacts, Report
from patchwarden.core.suppression import Suppression
from patchwarden.pipeline.assess import assess
from patchwarden.ports import AdvisoryStore

NO_BASELINE = ""
"""The report's baseline name: no baseline judges an image."""


def assess_image(
    contents: ImageContents,
    now: datetime,
    *,
    store: AdvisoryStore | None,
    suppressions: Sequence[Suppression] = (),
    ignore_unfixed: bool = False,
    db_max_age: timedelta | None = None,
) -> Report:
    """The vulnerability report of an image already read.

    Findings carry no history (an image has no previous scan to close findings against);
    suppressions name the image by its reference or its digest in ``Nodes``.
    ``vulnerabilities`` is ``None`` when the image's packages cannot be assessed (its
    warnings say why).
    """
    inventory = contents.inventory
    report = Report(
        node=NodeFacts(contents.facts.ref, "/", contents.os),
        baseline=NO_BASELINE,
        operation=Operation.SCAN,
        generated_at=now,
        items=(),
        summary=ComplianceSummary(
            Compliance.COMPLIANT, None, counts=dict.fromkeys((s.value for s in PatchState), 0)
        ),
        warnings=contents.warnings,
        inventory=inventory,
        image=contents.facts,
    )
    if inventory is None:
        return report
    found = assess(
        inventory,
        now,
        store=store,
        suppressions=suppressions,
        ignore_unfixed=ignore_unfixed,
        node_names=(contents.facts.digest,),
        max_age=db_max_age,
    )
    return replace(
        report,
        vulnerabilities=found.findings,
        warnings=(*report.warnings, *found.warnings),
    )
