"""A real RTSP camera for the tests: GStreamer's gst-rtsp-server, run with Debian's python3 (PyGObject).

Mounts: /test (videotestsrc, H.264), /still (an endless still image, H.264), /slides (PNG files
`slide0.png`, `slide1.png` ... of a folder shown in turn, H.264: a face coming and going), /audio (PCMU only).
Prints "READY <port>" on stdout once listening; runs until killed.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

ROLE = "viewer"
# One H.264 tail for every video mount: a keyframe each second at 15 fps, SPS/PPS in-band so late joiners decode.
H264 = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 config-interval=1"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line: port, auth scheme and credentials, picture size, still image path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--auth", choices=["none", "basic", "digest"], default="none")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--image", default="", help="PNG or JPEG served on /still")
    parser.add_argument("--slides", default="", help="a folder of slide0.png, slide1.png ... served on /slides")
    parser.add_argument("--slide-seconds", type=int, default=4, help="how long each slide shows")
    return parser.parse_args(argv)


def video_caps(args: argparse.Namespace) -> str:
    """Raw caps every video mount is encoded from."""
    return f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1"


def factory(launch: str, permissions: GstRtspServer.RTSPPermissions | None) -> GstRtspServer.RTSPMediaFactory:
    """A shared media factory (one pipeline for all clients, like a camera) for a launch line."""
    media = GstRtspServer.RTSPMediaFactory()
    media.set_launch(f"( {launch} )")
    media.set_shared(True)
    if permissions is not None:
        media.set_permissions(permissions)
    return media


def setup_auth(server: GstRtspServer.RTSPServer, args: argparse.Namespace) -> GstRtspServer.RTSPPermissions | None:
    """Require the one user (Basic or Digest); return the permissions the factories need."""
    if args.auth == "none":
        return None
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    # The binding takes one RTSPAuthMethod, not a mask, so a server offers exactly one scheme.
    if args.auth == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    return permissions


def main(argv: list[str]) -> int:
    """Serve the mounts until killed."""
    args = parse_args(argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    permissions = setup_auth(server, args)
    mounts = server.get_mount_points()
    caps = video_caps(args)
    mounts.add_factory("/test", factory(f"videotestsrc is-live=true pattern=ball ! {caps} ! {H264}", permissions))
    if args.image:
        still = (
            f"filesrc location={args.image} ! decodebin ! videoconvert ! videoscale ! imagefreeze is-live=true"
            f" ! videorate ! {caps} ! {H264}"
        )
        mounts.add_factory("/still", factory(still, permissions))
    if args.slides:
        slides = (
            f"multifilesrc location={args.slides}/slide%d.png index=0 loop=true"
            f" caps=image/png,framerate=1/{args.slide_seconds} ! pngdec ! videoconvert ! videoscale"
            f" ! videorate ! {caps} ! {H264}"
        )
        mounts.add_factory("/slides", factory(slides, permissions))
    audio = "audiotestsrc is-live=true ! audioconvert ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay0 pt=0"
    mounts.add_factory("/audio", factory(audio, permissions))
    if server.attach(None) == 0:
        print(f"FAILED cannot listen on port {args.port}", flush=True)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
