"""RTSP cameras: health, snapshots, live view, motion and faces (docs/cameras.md). Setup is wired in later."""
