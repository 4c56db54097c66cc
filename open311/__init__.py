"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) as an adapter over cases.

``services`` are our services (``service_code`` = the service id, ``group`` = the entity),
``requests`` are cases (``service_request_id`` = the case number). Handlers build plain
dicts; :mod:`open311.formats` turns the same dict into JSON or XML.
"""
