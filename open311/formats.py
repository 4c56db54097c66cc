"""One serializer per format, both from the same plain value.

A document is a root name plus a body: a list (``services``, ``service_requests``,
``errors``) or a dict (``service_definition``, ``discovery``). JSON is the body itself
(the spec's Spark convention: the root element disappears, lists become arrays); XML wraps
it in the root element and names each list item after its list (``services`` ->
``service``). ``None`` is an empty element in XML and ``null`` in JSON; booleans are
``true``/``false`` in both.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
# Characters XML 1.0 cannot carry at all, even escaped (a note pasted with a control code).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_json(root: str, body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


def to_xml(root: str, body: Any) -> str:
    element = ET.Element(root)
    _fill(element, root, body)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")


SERIALIZERS = {"json": to_json, "xml": to_xml}


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), key, child)
    elif isinstance(value, list):
        item = ITEM_NAMES.get(name, "item")
        for child in value:
            _fill(ET.SubElement(element, item), item, child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("\ufffd", str(value))
