"""Admin uploads over HTTP: the village registry and village boundaries with their reports."""

from __future__ import annotations

import io
import json

from openpyxl import Workbook
from shapely.geometry import box, mapping

from tests.support.districts import TINY
from tests.support.web import csrf_token


def _registry_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["乡镇代码", "乡镇", "村代码", "村名", "区域类别", "总户数"])
    ws.append(["140405101", "上村镇", "140405101203", "新庄村委会", "农村地区", 35])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_admin_uploads_the_registry_and_the_village_appears(login) -> None:
    client = login("alice")
    resp = client.post(
        "/admin/registry",
        data={
            "file": (io.BytesIO(_registry_xlsx()), "屯留区村庄名录.xlsx"),
            "csrf_token": csrf_token(client, "/admin/registry"),
        },
        content_type="multipart/form-data",
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert "村庄名录已加载" in page
    assert "新庄村委会" in client.get("/villages?township=140405101").get_data(as_text=True)
    assert "上传村庄名录" in client.get("/admin/audit").get_data(as_text=True)


def test_admin_uploads_boundaries_and_reads_the_match_report(login) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "name": name},
            "geometry": mapping(box(*bounds)),
        }
        for code, name, _, _, _, bounds in TINY["villages"][:3]
    ]
    features.append(
        {
            "type": "Feature",
            "properties": {"code": "140405999999", "name": "无名村"},
            "geometry": mapping(box(112.9, 36.3, 112.91, 36.31)),
        }
    )
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    client = login("alice")
    resp = client.post(
        "/admin/boundaries",
        data={
            "file": (io.BytesIO(data), "村界.geojson"),
            "csrf_token": csrf_token(client, "/admin/boundaries"),
        },
        content_type="multipart/form-data",
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert "匹配报告" in page and "EPSG:4326" in page
    assert "无名村" in page  # a boundary that matches no village
    assert "<dt>已匹配</dt><dd>3</dd>" in page


def test_wrong_file_type_is_refused_in_chinese(login) -> None:
    client = login("alice")
    resp = client.post(
        "/admin/boundaries",
        data={
            "file": (io.BytesIO(b"x"), "村界.docx"),
            "csrf_token": csrf_token(client, "/admin/boundaries"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and "不支持的文件类型" in resp.get_data(as_text=True)
