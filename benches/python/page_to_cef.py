"""The Python baseline of BENCHMARKS.md (issue 21): an API page document to CEF with the json
module and the `cefevent` package (pip install cefevent), the script an MSSP would otherwise
write. Maps the fields siemfwd's built-in CEF mapping maps most often.

    python3 benches/python/page_to_cef.py PAGE.json > out.cef
"""

import json
import sys

from cefevent import CEFEvent

SEVERITY = {"UnSpecified": 0, "Informational": 2, "Low": 3, "Medium": 6, "High": 9}


def first(evidence, kind):
    return next((e for e in evidence if e.get("entityType") == kind), {})


def main(path):
    with open(path, encoding="utf-8") as f:
        page = json.load(f)
    out = sys.stdout
    for alert in page["value"]:
        evidence = alert.get("evidence") or []
        file = first(evidence, "File")
        user = alert.get("relatedUser") or {}
        c = CEFEvent()
        c.set_field("deviceVendor", "Microsoft")
        c.set_field("deviceProduct", "Microsoft Defender for Endpoint")
        c.set_field("deviceVersion", "1.0")
        c.set_field("signatureId", alert.get("detectorId") or alert.get("category") or "")
        c.set_field("name", alert.get("title") or "")
        c.set_field("severity", SEVERITY.get(alert.get("severity"), 0))
        for field, value in (
            ("externalId", alert.get("id")),
            ("deviceCustomString1", alert.get("incidentId")),
            ("cat", alert.get("category")),
            ("act", alert.get("status")),
            ("msg", alert.get("description")),
            ("dhost", alert.get("computerDnsName")),
            ("duser", user.get("userName") if isinstance(user, dict) else user),
            ("fname", file.get("fileName")),
            ("filePath", file.get("filePath")),
            ("fileHash", file.get("sha256") or file.get("sha1")),
            ("deviceCustomString2", alert.get("threatName")),
            ("deviceCustomString3", ",".join(alert.get("mitreTechniques") or [])),
        ):
            if value is not None:
                c.set_field(field, str(value))
        out.write(c.build_cef())
        out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
