"""The two Open311 serializers from one plain value."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from open311.formats import to_json, to_xml

BODY = [
    {
        "service_request_id": "2026000001",
        "status": "open",
        "status_notes": "Cuadrilla <en camino> & \x01listo",
        "lat": 8.98,
        "media_url": None,
        "metadata": True,
    }
]


def test_given_one_value_then_json_and_xml_say_the_same():
    assert json.loads(to_json("service_requests", BODY)) == BODY
    text = to_xml("service_requests", BODY)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<service_requests><request>')
    request = ET.fromstring(text).find("request")
    assert request.findtext("service_request_id") == "2026000001"
    assert request.findtext("lat") == "8.98" and request.findtext("metadata") == "true"
    assert request.find("media_url") is not None and request.find("media_url").text is None


def test_given_text_xml_cannot_carry_then_it_still_parses():
    note = ET.fromstring(to_xml("service_requests", BODY)).find("request/status_notes").text
    assert note == "Cuadrilla <en camino> & \ufffdlisto"


def test_given_nested_lists_then_items_take_their_names():
    body = {"endpoints": [{"formats": ["text/xml", "application/json"]}]}
    root = ET.fromstring(to_xml("discovery", body))
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]
