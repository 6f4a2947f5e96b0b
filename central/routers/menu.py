"""GET /v1/menu: the signed menu bundle, with its ETag."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Response

from central.deps import kiosk, store_of
from central.schemas import ERRORS, Problem
from central.storage import Store

router = APIRouter(tags=["kiosk"])


@router.get("/v1/menu",
            responses={200: {"content": {"application/octet-stream": {}, "application/json": {}},
                             "description": "the signed menu bundle, as published"},
                       304: {"description": "If-None-Match matched: the kiosk's copy is current"},
                       404: {"model": Problem, "description": "no menu published yet"}, **ERRORS})
def get_menu(if_none_match: str | None = Header(None), kiosk_id: str = Depends(kiosk),
             store: Store = Depends(store_of)):
    """The signed menu bundle with its ETag (conditional GET)."""
    row = store.one("SELECT etag, content, content_type FROM menu WHERE slot = 1")
    if row is None:
        raise HTTPException(404, "no menu has been published")
    if if_none_match and row["etag"] in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": row["etag"]})
    return Response(bytes(row["content"]), media_type=row["content_type"], headers={"ETag": row["etag"]})
