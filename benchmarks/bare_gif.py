"""The bare Starlette route the edge is compared with: the same GIF, the same headers, nothing recorded."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
_HEADERS = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0", "Pragma": "no-cache", "Expires": "0"}


async def pixel(request: Request) -> Response:
    return Response(GIF, media_type="image/gif", headers=_HEADERS)


app = Starlette(routes=[Route("/o/{token}.gif", pixel), Route("/c/{token}", pixel)])
